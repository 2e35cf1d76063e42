// Digests as the spec and image-spec descriptor.md define them: algorithm ":" encoded.
import { createHash, type Hash } from 'node:crypto';
import { digestInvalid } from './errors.js';

export type Digest = string & { readonly __brand: 'Digest' };
export type DigestAlgorithm = 'sha256' | 'sha512';

const ENCODED: Record<DigestAlgorithm, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Parses a digest; throws DIGEST_INVALID for anything malformed or of an unsupported algorithm. */
export function parseDigest(value: string): Digest {
  if (value.length > 256 || !GRAMMAR.test(value)) throw digestInvalid('malformed digest', value);
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  const pattern = (ENCODED as Record<string, RegExp | undefined>)[algorithm];
  if (pattern === undefined) throw digestInvalid(`unsupported digest algorithm ${algorithm}`, value);
  if (!pattern.test(encoded)) throw digestInvalid(`malformed ${algorithm} digest`, value);
  return value as Digest;
}

export function isDigest(value: string): boolean {
  return GRAMMAR.test(value) && value.includes(':');
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function createDigester(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}
