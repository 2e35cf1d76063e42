// The signing key of the built-in token service: read from auth.tokenservice.keyfile, or generated
// (ES256) on first start and written there (mode 0600); without a file, the deployment's key kept in
// the metadata store (PostgreSQL: shared by every instance), or one kept in memory.
// Its public half is published as a JWKS; `kid` is the RFC 7638 thumbprint, or (kidformat:
// libtrust) the key ID distribution 2.x and Docker's libtrust give the key, which is what a
// distribution 2.x registry that trusts this service (auth.token.rootcertbundle: a certificate of
// this key) looks a token's `kid` up by.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** How the signing key's `kid` is written (auth.tokenservice.kidformat). */
export type KidFormat = 'rfc7638' | 'libtrust';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly alg: string;
  readonly kid: string;
  /** The public key as a JWK with kid, alg and use. */
  readonly jwk: JsonWebKey;
}

/** A new ES256 private key, PEM (PKCS#8). */
export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * The key from `file`, or from `sharedPem` (the deployment's key kept in the metadata store, see
 * shared-signing-key.ts) when there is no file, or generated.
 */
export function loadSigningKey(file: string | undefined, sharedPem?: string, kidFormat: KidFormat = 'rfc7638'): { key: SigningKey; generated: boolean } {
  let privateKey: KeyObject;
  let generated = false;
  if (file === undefined && sharedPem !== undefined) {
    privateKey = createPrivateKey(sharedPem);
  } else if (file !== undefined && existsSync(file)) {
    privateKey = createPrivateKey(readFileSync(file));
  } else {
    privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    generated = true;
    if (file !== undefined) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    }
  }
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' });
  const alg = algorithmOf(jwk);
  const kid = kidFormat === 'libtrust' ? libtrustKeyId(publicKey) : thumbprint(jwk);
  return { key: { privateKey, publicKey, alg, kid, jwk: { ...jwk, kid, alg, use: 'sig' } }, generated };
}

function algorithmOf(jwk: JsonWebKey): string {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  if (jwk.kty === 'EC' && jwk.crv === 'P-521') return 'ES512';
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  throw new Error(`unsupported token signing key type ${String(jwk.kty)} ${String(jwk.crv ?? '')}`);
}

function thumbprint(jwk: JsonWebKey): string {
  const members: Record<string, unknown> =
    jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * libtrust's key ID: the first 240 bits of the SHA-256 of the key's DER SubjectPublicKeyInfo, in
 * base32 (48 characters, no padding), in 12 groups of 4 joined by ':'. Written here rather than
 * taken from a base32 package: 30 bytes in, a fixed-width string out.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const hash = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 30);
  let bits = 0;
  let value = 0;
  let text = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return (text.match(/.{4}/g) ?? []).join(':');
}
