// The storage driver: bytes by key, nothing of OCI. Keys are relative slash-separated paths made of
// [A-Za-z0-9._-] segments (the registry computes them, see registry/blob-keys.ts). Every method is
// safe to call concurrently for different keys; callers serialise writes to one upload key.
import type { Readable, Writable } from 'node:stream';

export interface ObjectInfo {
  readonly size: number;
  readonly modifiedAt: Date;
}

/** An inclusive byte range, as HTTP Range uses. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** An open append handle. Write through `stream`; the bytes are at the key once `stream` finished. */
export interface AppendWriter {
  readonly stream: Writable;
  /** The object's size when it was opened: the offset at which the stream's bytes land. */
  readonly size: number;
}

export interface AppendOptions {
  /**
   * The caller commits the object right after this stream (the body of a monolithic or closing PUT):
   * the driver may make the bytes durable as the stream ends, so that commit has less to do.
   */
  readonly last?: boolean;
}

/**
 * A write staged at its final key: the bytes written to `stream` are invisible at the key until
 * `commit`, which then makes them the object there, replacing any, and durable. `abort` discards
 * them. A crash before `commit` leaves nothing visible at the key (an S3 multipart upload that was
 * never completed is removed by the bucket's lifecycle rule).
 */
export interface StagedWriter {
  readonly stream: Writable;
  /** After `stream` finished: the bytes become the object at the key. */
  commit(): Promise<void>;
  /** Discards what was staged; safe to call at any point, also after the stream failed. */
  abort(): Promise<void>;
}

/** Where an object's bytes are, for a reader that can take them without a stream (hard link, server-side copy). */
export type ObjectLocation =
  | { readonly kind: 'file'; readonly path: string }
  /** etag: the object's ETag when the location was taken (a copy may require it to still be that object). */
  | { readonly kind: 's3'; readonly endpoint: string | undefined; readonly bucket: string; readonly key: string; readonly etag?: string | undefined };

export interface StorageDriver {
  readonly name: string;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** A stream of the object's bytes (or of a range of them). Rejects with `NotFoundError` when absent. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /**
   * Optional: writes the object (or a range of it) into `destination` and resolves once all of it was
   * accepted; rejects if the destination is destroyed first. A driver offers it when it can copy with
   * less work than a read stream (the filesystem driver reuses two buffers instead of allocating one
   * per chunk). Rejects with `NotFoundError` when absent.
   */
  copyTo?(key: string, range: ByteRange | undefined, destination: Writable): Promise<void>;
  /**
   * Optional: sends the object (or a range of it) straight to a connected socket's descriptor with
   * zero-copy sendfile(2); resolves once all of it was sent. Nothing else may write to the socket
   * meanwhile. If the system refuses sendfile between this file and socket, the rest of the bytes
   * go through `fallback` (a Writable over the same connection) instead. Rejects with
   * `NotFoundError` when absent, or with the socket's error (the peer left).
   */
  sendFileTo?(key: string, range: ByteRange | undefined, socketFd: number, fallback: Writable): Promise<void>;
  /**
   * Optional: a URL from which a client may GET the object (or a Range of it) directly, valid for a
   * few minutes, or undefined when this driver was configured not to redirect. Needs no request.
   */
  redirectUrl?(key: string): Promise<string | undefined>;
  /** Whole small object (e.g. a manifest). Rejects with `NotFoundError` when absent. */
  get(key: string): Promise<Buffer>;
  /** Creates or replaces an object durably in one step. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Opens the object for appending, creating it empty when absent. */
  append(key: string, options?: AppendOptions): Promise<AppendWriter>;
  /**
   * Optional: stages a write of a whole object at `to` (StagedWriter). A driver offers it when
   * writing at the final key and committing there costs less than append and commit (S3: no
   * server-side copy of the bytes, no delete of a scratch key). The caller commits only bytes it has
   * verified while they were written.
   */
  stage?(to: string): Promise<StagedWriter>;
  /**
   * Makes `from` durable and moves it to `to` atomically, replacing `to`, whose bytes the caller has
   * verified are the same. After it resolves, `to` survives a crash and `from` is gone.
   */
  commit(from: string, to: string): Promise<void>;
  /**
   * Stores `bytes` (already verified) at `to` as `commit` would after writing them to `from`, a
   * scratch key of the caller's, which is gone when this resolves (and left behind, at worst, by a
   * crash). After it resolves, `to` holds `bytes` and survives a crash. If an object exists at
   * `from`, rejects with `ExistsError` and changes nothing. A driver may do it in fewer steps than
   * append and commit: for small objects that pays.
   */
  commitBytes(from: string, to: string, bytes: Buffer): Promise<void>;
  /**
   * Optional: makes the file at `path` (outside the driver, on the local filesystem) the object at
   * `key` without copying its bytes (a hard link), replacing any object there; not yet durable (the
   * caller commits `key` next). Resolves false when it cannot (another filesystem, a driver that is
   * not local): the caller then copies. `berth import` uses it.
   */
  linkFrom?(path: string, key: string): Promise<boolean>;
  /**
   * Optional: makes the object `key` of `bucket` on the S3 endpoint `endpoint` (undefined: AWS) the
   * object at `to` here by one server-side copy (CopyObject, UploadPartCopy in ranges above the copy
   * threshold), replacing any object there. `to` may be the final, content-addressed key: the
   * caller verified the source's bytes first (or was told not to), and with `etag` the copy is made
   * only if the source is still the object of that ETag. Resolves false when it cannot (another
   * endpoint, a driver that is not S3, the source not readable with this driver's credentials, or
   * no longer of that ETag): the caller then copies through a stream. `berth import` uses it.
   */
  copyFromS3?(source: { readonly endpoint: string | undefined; readonly bucket: string; readonly key: string; readonly size: number; readonly etag?: string | undefined }, to: string): Promise<boolean>;
  /** Optional: whether copyFromS3 can copy from that endpoint at all (false: do not bother reading for it). */
  copiesFromS3?(endpoint: string | undefined): boolean;
  /** Optional: where the object at `key` is (whether or not it exists), for `linkFrom`/`copyFromS3` of another driver. */
  locate?(key: string): ObjectLocation;
  /** Removes an object, or every object below a prefix ending in "/". Absent keys are not an error. */
  delete(keyOrPrefix: string): Promise<void>;
  /** Every object below a prefix, in no particular order. */
  list(prefix: string): AsyncIterable<{ readonly key: string } & ObjectInfo>;
}

export class NotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`storage: no object at ${key}`);
    this.name = 'NotFoundError';
    this.key = key;
  }
}

/** The storage backend did not answer (down, unreachable, or failing with 5xx after retries). */
export class StorageUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`storage: unavailable (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    this.name = 'StorageUnavailableError';
  }
}

/** commitBytes found an object at its scratch key. */
export class ExistsError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`storage: an object exists at ${key}`);
    this.name = 'ExistsError';
    this.key = key;
  }
}

const KEY = /^(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+\/?$/;

/** Rejects keys that could escape the driver's root ("..", absolute paths, empty segments). */
export function checkKey(key: string): string {
  if (!KEY.test(key) || key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new Error(`storage: illegal key ${JSON.stringify(key)}`);
  }
  return key;
}

/** Runs a driver's synchronous work and reports its outcome as a promise (a throw becomes a rejection). */
export function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
