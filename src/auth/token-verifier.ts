// Verifies Bearer tokens as a resource server: signature by a trusted key (the built-in token
// service's, the certificates of auth.token.rootcertbundle, the keys of auth.token.jwks), an allowed
// algorithm (never `none` or HMAC), `iss`, `aud`, `exp` (required) and `nbf` with a small leeway.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Scope } from './access.js';
import { parseAccessClaim } from './scopes.js';

export interface TokenTrust {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly leewayMs: number;
  /** The built-in token service's public key and kid. */
  readonly own: { readonly publicKey: KeyObject; readonly kid: string } | undefined;
  readonly rootCertBundle: string | undefined;
  readonly jwks: string | undefined;
}

export interface VerifiedToken {
  /** `sub`; empty for an anonymous token. */
  readonly subject: string;
  readonly access: readonly Scope[];
  /** Signed by the built-in token service (its subject is then held to the current policy too). */
  readonly own: boolean;
}

type Candidate = { readonly key: KeyObject | ReturnType<typeof createLocalJWKSet>; readonly own: boolean };

export class TokenVerifier {
  readonly #trust: TokenTrust;
  readonly #certificates: readonly KeyObject[];
  readonly #jwks: ReturnType<typeof createLocalJWKSet> | undefined;

  constructor(trust: TokenTrust) {
    this.#trust = trust;
    this.#certificates = trust.rootCertBundle === undefined ? [] : readCertificates(trust.rootCertBundle);
    this.#jwks = trust.jwks === undefined ? undefined : createLocalJWKSet(JSON.parse(readFileSync(trust.jwks, 'utf8')) as JSONWebKeySet);
  }

  /** The verified token, or the reason it is refused (never echoing the token). */
  async verify(token: string): Promise<VerifiedToken | { readonly error: string }> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (typeof header.alg !== 'string' || !this.#trust.algorithms.includes(header.alg)) return { error: 'algorithm not accepted' };
      kid = header.kid;
    } catch {
      return { error: 'malformed token' };
    }
    const own = this.#trust.own;
    const candidates: Candidate[] = [];
    if (own !== undefined && (kid === undefined || kid === own.kid)) candidates.push({ key: own.publicKey, own: true });
    if (own === undefined || kid !== own.kid) {
      if (this.#jwks !== undefined) candidates.push({ key: this.#jwks, own: false });
      for (const key of this.#certificates) candidates.push({ key, own: false });
    }
    let reason = 'signature not trusted';
    for (const candidate of candidates) {
      let payload: JWTPayload;
      try {
        // jose's overloads differ for a key and a key set; both are verified the same way.
        const verified = await jwtVerify(token, candidate.key as KeyObject, {
          issuer: this.#trust.issuer,
          audience: this.#trust.audience,
          algorithms: [...this.#trust.algorithms],
          clockTolerance: Math.round(this.#trust.leewayMs / 1000),
          requiredClaims: ['exp'],
        });
        payload = verified.payload;
      } catch (error) {
        if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JOSEAlgNotAllowed) continue;
        if (error instanceof errors.JWTExpired) return { error: 'token expired' };
        if (error instanceof errors.JWTClaimValidationFailed) return { error: `token claim ${error.claim} not accepted` };
        reason = 'malformed token';
        continue;
      }
      return { subject: typeof payload.sub === 'string' ? payload.sub : '', access: parseAccessClaim(payload.access), own: candidate.own };
    }
    return { error: reason };
  }
}

function readCertificates(file: string): KeyObject[] {
  const text = readFileSync(file, 'utf8');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${file} holds no PEM certificate`);
  return blocks.map((pem) => new X509Certificate(pem).publicKey);
}
