// Blobs as a repository sees them: stat, read (whole or a range), delete (unlink from the repository).
import type { Readable, Writable } from 'node:stream';
import type { MetadataStore } from '../metadata/store.js';
import type { ByteRange, StorageDriver } from '../storage/driver.js';
import { blobKey } from './blob-keys.js';
import type { ChangeRecorder, OriginSource } from './changes.js';
import type { Digest } from './digest.js';
import { blobUnknown, nameUnknown } from './errors.js';
import type { RepositoryName } from './names.js';
import type { PullThrough } from './proxy-service.js';

export interface BlobInfo {
  readonly digest: Digest;
  /** -1 when the bytes are arriving from an upstream that did not say how many. */
  readonly size: number;
  /** A manifest fetched through the blobs endpoint is served from its stored bytes. */
  readonly manifestPayload?: Buffer;
  /** A blob of a proxied repository on its way from the upstream (GET only): its bytes as they arrive. */
  readonly arriving?: { open(): Readable; stored(): Promise<void> };
}

export class BlobService {
  readonly #metadata: MetadataStore;
  readonly #storage: StorageDriver;
  readonly #events: ChangeRecorder | undefined;
  readonly #proxy: PullThrough | undefined;

  constructor(metadata: MetadataStore, storage: StorageDriver, events?: ChangeRecorder, proxy?: PullThrough) {
    this.#metadata = metadata;
    this.#storage = storage;
    this.#events = events;
    this.#proxy = proxy;
  }

  /** Records a pull of the blob (a GET served in full), when an endpoint wants pulls. */
  pulled(repository: RepositoryName, blob: BlobInfo, origin: OriginSource): void {
    if (this.#events?.recordsPulls !== true) return;
    const change = blob.manifestPayload === undefined ? { action: 'pull', kind: 'blob', repository, digest: blob.digest, size: blob.size } as const : undefined;
    if (change !== undefined) this.#events.pulled(change, origin);
  }

  /**
   * The blob as the repository has it. In a proxied repository a blob that is not stored comes from
   * the upstream: `forHead` asks only its size, otherwise the result is `arriving`.
   */
  async stat(repository: RepositoryName, digest: Digest, forHead = false): Promise<BlobInfo> {
    const row = await this.#metadata.getRepositoryBlob(repository, digest);
    if (row !== undefined) {
      if (!forHead) this.#proxy?.blobServedFromCache(repository);
      return { digest, size: row.size };
    }
    const manifest = await this.#metadata.getManifestByDigest(repository, digest);
    if (manifest !== undefined) return { digest, size: manifest.payload.length, manifestPayload: manifest.payload };
    const upstream = await this.#proxy?.blob(repository, digest, forHead);
    if (upstream !== undefined) return upstream;
    if (!(await this.#metadata.hasRepository(repository))) throw nameUnknown(repository);
    throw blobUnknown(digest);
  }

  /** Whether the driver can send clients to the bytes themselves (S3's presigned URLs). */
  get redirects(): boolean {
    return this.#storage.redirectUrl !== undefined;
  }

  /** Where a client may fetch the blob's bytes directly (a presigned URL), when the driver redirects. */
  async redirectUrl(digest: Digest): Promise<string | undefined> {
    return this.#storage.redirectUrl === undefined ? undefined : this.#storage.redirectUrl(blobKey(digest));
  }

  read(digest: Digest, range?: ByteRange): Promise<Readable> {
    return this.#storage.read(blobKey(digest), range);
  }

  /** Whether `copyTo` is available (the storage driver can copy into a destination cheaply). */
  get canCopy(): boolean {
    return this.#storage.copyTo !== undefined;
  }

  /** Writes the blob (or a range) into `destination`; only when `canCopy`. */
  copyTo(digest: Digest, range: ByteRange | undefined, destination: Writable): Promise<void> {
    if (this.#storage.copyTo === undefined) return Promise.reject(new Error('storage driver cannot copy'));
    return this.#storage.copyTo(blobKey(digest), range, destination);
  }

  /** Whether `sendFileTo` is available (the storage driver can send from a file to a socket without copying). */
  get canSendFile(): boolean {
    return this.#storage.sendFileTo !== undefined;
  }

  /**
   * Sends the blob (or a range) to a connected socket's descriptor, or through `fallback` (the same
   * connection) where the system refuses to; only when `canSendFile`.
   */
  sendFileTo(digest: Digest, range: ByteRange | undefined, socketFd: number, fallback: Writable): Promise<void> {
    if (this.#storage.sendFileTo === undefined) return Promise.reject(new Error('storage driver cannot send files'));
    return this.#storage.sendFileTo(blobKey(digest), range, socketFd, fallback);
  }

  /** A small blob's bytes whole (the caller has its size from stat). */
  readWhole(digest: Digest): Promise<Buffer> {
    return this.#storage.get(blobKey(digest));
  }

  async delete(repository: RepositoryName, digest: Digest, origin?: OriginSource): Promise<void> {
    const events = this.#events === undefined ? undefined : [this.#events.event({ action: 'delete', kind: 'blob', repository, digest }, origin)];
    if (!(await this.#metadata.unlinkBlob(repository, digest, events))) {
      if (!(await this.#metadata.hasRepository(repository))) throw nameUnknown(repository);
      throw blobUnknown(digest);
    }
  }
}
