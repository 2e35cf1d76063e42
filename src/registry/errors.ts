// The one error table: the OCI distribution-spec error codes and the status each is sent with.
// Domain code throws RegistryError values made by the named factories below; http/send-error.ts
// turns them into the spec's JSON envelope. Tests assert `code` and `status`, never the message.

export type ErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS';

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  /** Extra response headers that belong to this error (e.g. Range on a 416). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, status: number, message: string, detail?: unknown, headers: Record<string, string> = {}) {
    // No stack trace: these are answers to a request (a HEAD of a blob not yet pushed is one on every
    // push), never logged with their stack, and capturing one through the handler's async frames
    // took up to 20 µs each in a push's CPU profile.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'RegistryError';
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.headers = headers;
  }
}

export const blobUnknown = (digest: string): RegistryError =>
  new RegistryError('BLOB_UNKNOWN', 404, 'blob unknown to registry', { digest });

export const blobUploadUnknown = (id: string): RegistryError =>
  new RegistryError('BLOB_UPLOAD_UNKNOWN', 404, 'blob upload unknown to registry', { id });

export const blobUploadInvalid = (reason: string): RegistryError =>
  new RegistryError('BLOB_UPLOAD_INVALID', 400, `blob upload invalid: ${reason}`);

/** A chunk that does not start at the stored offset: 416 with where to resume. */
export const uploadRangeInvalid = (offset: number, location: string): RegistryError =>
  new RegistryError('BLOB_UPLOAD_INVALID', 416, 'chunk does not start at the current upload offset', { offset }, {
    Range: `0-${Math.max(offset - 1, 0)}`,
    Location: location,
  });

export const digestInvalid = (reason: string, digest?: string): RegistryError =>
  new RegistryError('DIGEST_INVALID', 400, `provided digest did not match uploaded content: ${reason}`, digest === undefined ? undefined : { digest });

export const sizeInvalid = (reason: string): RegistryError =>
  new RegistryError('SIZE_INVALID', 400, `provided length did not match content length: ${reason}`);

export const manifestBlobUnknown = (digest: string): RegistryError =>
  new RegistryError('MANIFEST_BLOB_UNKNOWN', 400, 'manifest references a blob unknown to the repository', { digest });

export const manifestChildUnknown = (digest: string): RegistryError =>
  new RegistryError('MANIFEST_UNKNOWN', 400, 'index references a manifest unknown to the repository', { digest });

export const manifestInvalid = (reason: string): RegistryError =>
  new RegistryError('MANIFEST_INVALID', 400, `manifest invalid: ${reason}`);

export const manifestTooLarge = (limit: number): RegistryError =>
  new RegistryError('MANIFEST_INVALID', 413, `manifest exceeds the limit of ${limit} bytes`, { limit });

export const manifestUnknown = (reference: string): RegistryError =>
  new RegistryError('MANIFEST_UNKNOWN', 404, 'manifest unknown to registry', { reference });

export const nameInvalid = (reason: string): RegistryError =>
  new RegistryError('NAME_INVALID', 400, `invalid repository name: ${reason}`);

export const nameUnknown = (name: string): RegistryError =>
  new RegistryError('NAME_UNKNOWN', 404, 'repository name not known to registry', { name });

export const tagInvalid = (reason: string): RegistryError =>
  new RegistryError('MANIFEST_INVALID', 400, `invalid tag: ${reason}`);

export const unsupported = (reason: string, status = 405): RegistryError =>
  new RegistryError('UNSUPPORTED', status, `the operation is unsupported: ${reason}`);

export const paginationInvalid = (reason: string): RegistryError =>
  new RegistryError('UNSUPPORTED', 400, `invalid pagination parameter: ${reason}`);

/** The spec names no code for an unsatisfiable blob Range; SIZE_INVALID is the closest of its 14. */
export const rangeNotSatisfiable = (size: number): RegistryError =>
  new RegistryError('SIZE_INVALID', 416, 'requested range not satisfiable', { size }, { 'Content-Range': `bytes */${size}` });

export const readOnly = (): RegistryError =>
  new RegistryError('UNSUPPORTED', 405, 'the registry is in read-only mode');

export const tooManyRequests = (retryAfterSeconds: number): RegistryError =>
  new RegistryError('TOOMANYREQUESTS', 429, 'too many requests', undefined, { 'Retry-After': String(retryAfterSeconds) });

export const unauthorized = (challenge: string): RegistryError =>
  new RegistryError('UNAUTHORIZED', 401, 'authentication required', undefined, { 'WWW-Authenticate': challenge });

export const denied = (reason: string): RegistryError =>
  new RegistryError('DENIED', 403, `requested access to the resource is denied: ${reason}`);

/**
 * An immutable tag (lifecycle.immutable) would move or go. The caller may well hold push and delete
 * rights: it is the resource that refuses, which is what DENIED (403) says among the spec's codes.
 */
export const tagImmutable = (repository: string, tag: string, current?: string): RegistryError =>
  new RegistryError('DENIED', 403, `requested access to the resource is denied: tag ${tag} of ${repository} is immutable`, {
    repository,
    tag,
    // The manifest the tag names: `digest` as docs/lifecycle.md promises (`current` kept for clients of the moving PUT).
    ...(current === undefined ? {} : { digest: current, current }),
    reason: 'TAG_IMMUTABLE',
  });

/** A push would take a repository or namespace over its storage quota (lifecycle.quotas). */
export const quotaExceeded = (scope: string, limitBytes: number, usedBytes: number, addedBytes: number): RegistryError =>
  new RegistryError('DENIED', 403, `requested access to the resource is denied: storage quota of ${scope} exceeded`, {
    scope,
    limitBytes,
    usedBytes,
    addedBytes,
    reason: 'QUOTA_EXCEEDED',
  });

export const notFound = (): RegistryError =>
  new RegistryError('NAME_UNKNOWN', 404, 'no such endpoint');

export const methodNotAllowed = (allowed: readonly string[]): RegistryError =>
  new RegistryError('UNSUPPORTED', 405, 'method not allowed on this endpoint', undefined, { Allow: allowed.join(', ') });

export const requestInvalid = (reason: string): RegistryError =>
  new RegistryError('UNSUPPORTED', 400, reason);
