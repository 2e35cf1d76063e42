// What a client is told when the upstream of a proxied repository cannot give what it asked for:
// the upstream's refusal mapped onto the spec's errors (404 → *_UNKNOWN, 429 → TOOMANYREQUESTS with
// its Retry-After), and an upstream that is down, slow, failing or sending bad bytes → 503 UNAVAILABLE.
import { blobUnknown, manifestUnknown, tooManyRequests, type RegistryError } from './errors.js';

/** The upstream is unreachable, timed out, answered 5xx, or sent content that fails verification. */
export class UpstreamUnavailableError extends Error {
  readonly retryAfterSeconds: number;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(`upstream unavailable: ${message}`, { cause: options?.cause });
    this.name = 'UpstreamUnavailableError';
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 5;
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), at least 1; 5 when absent. */
export function retryAfterSeconds(header: string | null, now: number = Date.now()): number {
  if (header === null || header.trim() === '') return 5;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Math.max(1, Number(trimmed));
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? Math.max(1, Math.ceil((at - now) / 1000)) : 5;
}

/**
 * The error for an upstream answer that is not the content (`status` not 2xx): undefined when the
 * status is no refusal this maps (the caller decides).
 */
export function upstreamRefusal(status: number, retryAfter: string | null, what: { kind: 'manifest' | 'blob'; reference: string }): RegistryError | UpstreamUnavailableError {
  if (status === 404) return what.kind === 'manifest' ? manifestUnknown(what.reference) : blobUnknown(what.reference);
  if (status === 429) return tooManyRequests(retryAfterSeconds(retryAfter));
  // 401/403 after the client answered the challenge: our credentials for the upstream are wrong or
  // lack the scope. That is the operator's problem, not the caller's: unavailable, logged.
  return new UpstreamUnavailableError(`the upstream answered ${status}`, { retryAfterSeconds: status >= 500 ? retryAfterSeconds(retryAfter) : 5 });
}

/** Whether an error means "the upstream cannot be asked now" (serve what is cached instead). */
export function isUpstreamOutage(error: unknown): boolean {
  if (error instanceof UpstreamUnavailableError) return true;
  return (error as { code?: unknown }).code === 'TOOMANYREQUESTS';
}
