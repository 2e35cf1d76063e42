// Blob uploads: sessions, streamed and chunked appends, completion with verification, mounts.
// Bytes go to a private upload key, are hashed while written, verified, made durable and moved to
// their content-addressed key; only then does the metadata store learn of the blob. A small body
// that is the whole blob is verified in memory first and then written, synced and moved in one step.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { MetadataStore } from '../metadata/store.js';
import { ExistsError, type AppendWriter, type StorageDriver } from '../storage/driver.js';
import { blobKey, uploadKey } from './blob-keys.js';
import { linkStoredBlob } from './blob-link.js';
import type { ChangeRecorder, OriginSource } from './changes.js';
import { bufferBody, copyBody } from './body-copy.js';
import { createDigester, digestAlgorithm, digestHex, type Digest } from './digest.js';
import { blobUploadInvalid, blobUploadUnknown, digestInvalid, sizeInvalid, uploadRangeInvalid } from './errors.js';
import type { RepositoryName } from './names.js';
import type { QuotaChecker } from './quota.js';
import { uploadPath } from './paths.js';
import { inlineDigest, offloadedDigest, offloads, type HashWorker, type StreamDigest } from './stream-digest.js';

/** A running sha256 over the bytes stored so far; lost on restart, then rebuilt from storage. */
interface RunningHash {
  hash: StreamDigest;
  bytes: number;
}

export interface ChunkRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A closing or monolithic PUT body of at most this many bytes is read into memory; if it is the whole
 * blob (the upload held no bytes) it is verified and stored with one commitBytes, one pool job on the
 * filesystem instead of five. Most layers and configs of a CI fleet's images are this small.
 */
const BUFFERED_BODY_LIMIT = 256 * 1024;

/** #storeWhole stored the body as the whole blob. */
const STORED = Symbol('stored');

/** How long a request's writer lease on an upload lasts unless renewed (every third of it while the request runs). */
export const UPLOAD_WRITER_LEASE_MS = 30_000;

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the upload service reports as it works (metrics); every member optional. */
export interface UploadObserver {
  /** Bytes of an upload body received and stored. */
  bytesReceived?(bytes: number): void;
}

export class UploadService {
  readonly #metadata: MetadataStore;
  readonly #storage: StorageDriver;
  readonly #hashes = new Map<string, RunningHash>();
  readonly #busy = new Set<string>();

  readonly #quotas: QuotaChecker | undefined;
  /** Where large bodies are hashed: the process's own worker unless a test passes another. */
  readonly #hashWorker: HashWorker | undefined;
  readonly #observer: UploadObserver | undefined;
  readonly #events: ChangeRecorder | undefined;

  constructor(metadata: MetadataStore, storage: StorageDriver, quotas?: QuotaChecker, hashWorker?: HashWorker, observer?: UploadObserver, events?: ChangeRecorder) {
    this.#events = events;
    this.#metadata = metadata;
    this.#storage = storage;
    this.#quotas = quotas;
    this.#hashWorker = hashWorker;
    this.#observer = observer;
  }

  async start(repository: RepositoryName): Promise<string> {
    await this.#quotas?.checkUpload(repository);
    const id = randomUUID();
    await this.#metadata.createUpload({ id, repository, startedAt: Date.now() });
    // Inline until the first body shows how long it is (see #write).
    this.#hashes.set(id, { hash: inlineDigest(), bytes: 0 });
    return id;
  }

  /** The number of bytes stored for the upload. */
  async offset(repository: RepositoryName, id: string): Promise<number> {
    await this.#session(repository, id);
    return this.#storedSize(id);
  }

  /** Appends a chunk (or a stream, without a range); returns the new offset. */
  async append(repository: RepositoryName, id: string, body: Readable, range: ChunkRange | undefined, contentLength: number | undefined): Promise<number> {
    await this.#session(repository, id);
    return this.#exclusive(id, async () => {
      const writer = await this.#storage.append(uploadKey(id));
      const offset = writer.size;
      if (range !== undefined) {
        let refusal: Error | undefined;
        if (range.start !== offset) refusal = uploadRangeInvalid(offset, uploadPath(repository, id));
        else if (contentLength !== undefined && contentLength !== range.end - range.start + 1) {
          refusal = blobUploadInvalid('Content-Length does not match Content-Range');
        }
        if (refusal !== undefined) {
          writer.stream.destroy();
          throw refusal;
        }
      }
      return offset + (await this.#write(id, writer, body, contentLength, range === undefined ? undefined : range.end - range.start + 1));
    });
  }

  /**
   * Finishes an upload: appends an optional last chunk (`length` bytes, undefined when unknown),
   * verifies the digest, stores the blob.
   */
  async complete(repository: RepositoryName, id: string, digest: Digest, body: Readable | undefined, length?: number, origin?: OriginSource): Promise<void> {
    await this.#session(repository, id);
    await this.#exclusive(id, async () => {
      let last: Readable | undefined | typeof STORED = body;
      // Not when this process appended bytes already: then the body cannot be the whole blob.
      if (body !== undefined && (this.#hashes.get(id)?.bytes ?? 0) === 0) last = await this.#storeWhole(repository, id, digest, body, length, id, origin);
      if (last !== STORED) {
        const size = last === undefined ? await this.#storedSize(id) : await this.#writeLast(id, last, length);
        await this.#verifyAndStore(repository, id, digest, size, id, origin);
      }
      this.#forget(id);
    });
  }

  /** One request that carries the whole blob (POST ?digest=) of `length` bytes (undefined when unknown). */
  async putMonolithic(repository: RepositoryName, digest: Digest, body: Readable, length?: number, origin?: OriginSource): Promise<void> {
    await this.#quotas?.checkUpload(repository);
    const id = randomUUID();
    try {
      const whole = await this.#storeWhole(repository, id, digest, body, length, undefined, origin);
      if (whole === STORED) return;
      this.#hashes.set(id, { hash: inlineDigest(), bytes: 0 });
      const size = await this.#writeLast(id, whole, length);
      await this.#verifyAndStore(repository, id, digest, size, undefined, origin);
    } catch (error) {
      await this.#storage.delete(uploadKey(id));
      throw error;
    } finally {
      this.#forget(id);
    }
  }

  async cancel(repository: RepositoryName, id: string): Promise<void> {
    await this.#session(repository, id);
    await this.#exclusive(id, async () => {
      await this.#metadata.deleteUpload(id);
      this.#forget(id);
      await this.#storage.delete(uploadKey(id));
    });
  }

  /** Links a blob the registry already holds into the repository; false when it cannot. */
  async mount(repository: RepositoryName, digest: Digest, from: RepositoryName | undefined, origin?: OriginSource): Promise<boolean> {
    const since = Date.now(); // before the bytes are checked: see linkStoredBlob
    const row = from === undefined ? await this.#metadata.getBlob(digest) : await this.#metadata.getRepositoryBlob(from, digest);
    if (row === undefined) return false;
    if ((await this.#storage.stat(blobKey(digest))) === undefined) return false;
    const events = this.#events === undefined ? undefined : [this.#events.event({ action: 'mount', kind: 'blob', repository, digest, size: row.size, fromRepository: from }, origin)];
    return linkStoredBlob(this.#metadata, this.#storage, repository, { digest, size: row.size }, undefined, since, events);
  }

  async #session(repository: RepositoryName, id: string): Promise<void> {
    if (!UPLOAD_ID.test(id) || (await this.#metadata.getUpload(repository, id)) === undefined) throw blobUploadUnknown(id);
  }

  async #storedSize(id: string): Promise<number> {
    return (await this.#storage.stat(uploadKey(id)))?.size ?? 0;
  }

  /**
   * One request writes an upload at a time, in every process sharing the store (http.workers,
   * instances on PostgreSQL): a writer lease on the session's row, renewed while the request runs.
   * A lease left by a killed process blocks the upload until it expires (UPLOAD_WRITER_LEASE_MS).
   */
  async #exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    if (this.#busy.has(id)) throw blobUploadInvalid('another request is writing to this upload');
    this.#busy.add(id);
    try {
      const holder = randomUUID();
      if (!(await this.#metadata.claimUploadWriter(id, holder, Date.now(), Date.now() + UPLOAD_WRITER_LEASE_MS))) {
        throw blobUploadInvalid('another request is writing to this upload');
      }
      const renew = setInterval(() => {
        this.#metadata.claimUploadWriter(id, holder, Date.now(), Date.now() + UPLOAD_WRITER_LEASE_MS).catch(() => undefined);
      }, UPLOAD_WRITER_LEASE_MS / 3);
      renew.unref();
      try {
        return await work();
      } finally {
        clearInterval(renew);
        // The session may be gone (completed): then there is nothing to release.
        await this.#metadata.releaseUploadWriter(id, holder).catch(() => undefined);
      }
    } finally {
      this.#busy.delete(id);
    }
  }

  /** Appends the body that ends the upload (a commit follows); returns the upload's whole size. */
  async #writeLast(id: string, body: Readable, length: number | undefined): Promise<number> {
    const writer = await this.#storage.append(uploadKey(id), { last: true });
    return writer.size + (await this.#write(id, writer, body, length));
  }

  /**
   * Streams body (`length` bytes, undefined when unknown) through the upload's open writer, hashing
   * on the way; returns the bytes written. With a limit (a Content-Range length), a chunk that would
   * go past it is refused before it is stored.
   */
  async #write(id: string, writer: AppendWriter, body: Readable, length: number | undefined, limit?: number): Promise<number> {
    let running = this.#hashes.get(id);
    if (running !== undefined && running.bytes !== writer.size) {
      this.#forget(id);
      running = undefined;
    }
    // Nothing hashed yet: a large first body moves the hashing to the worker thread (stream-digest.ts).
    if (running !== undefined && running.bytes === 0 && offloads(length)) {
      running.hash.dispose();
      running.hash = offloadedDigest(this.#hashWorker);
    }
    let written = 0;
    try {
      await copyBody(body, writer.stream, (chunk) => {
        // A Content-Range length: the chunk that would pass it is refused before it is written.
        if (limit !== undefined && written + chunk.length > limit) throw blobUploadInvalid('body is longer than its Content-Range');
        written += chunk.length;
        return running?.hash.update(chunk);
      });
    } catch (error) {
      this.#forget(id);
      throw error;
    }
    if (running !== undefined) running.bytes += written;
    this.#observer?.bytesReceived?.(written);
    return written;
  }

  #forget(id: string): void {
    this.#hashes.get(id)?.hash.dispose();
    this.#hashes.delete(id);
  }

  /** Verifies the upload's bytes, moves them to the blob's key, records the blob (and ends the session). */
  async #verifyAndStore(repository: RepositoryName, id: string, digest: Digest, size: number, session: string | undefined, origin: OriginSource | undefined): Promise<void> {
    if (size === 0 && (await this.#storage.stat(uploadKey(id))) === undefined) {
      await this.#storage.put(uploadKey(id), new Uint8Array(0));
    }
    const actual = await this.#digestOf(id, digestAlgorithm(digest), size);
    if (actual !== digestHex(digest)) throw digestInvalid(`upload hashes to ${digestAlgorithm(digest)}:${actual}`, digest);
    await this.#commitAndLink(repository, id, digest, size, session, () => this.#storage.commit(uploadKey(id), blobKey(digest)), origin);
  }

  /**
   * The last body of an upload, when it is small (`length` up to BUFFERED_BODY_LIMIT): read into
   * memory and stored as the whole blob in one commitBytes if it is one (it has the digest, and the
   * upload holds no bytes: commitBytes finds no file). Returns STORED then; otherwise, with nothing
   * stored, the body to append and verify with the rest of the upload as usual (which also gives a
   * wrong digest its error): the same bytes again if they were read, else `body` untouched.
   */
  async #storeWhole(repository: RepositoryName, id: string, digest: Digest, body: Readable, length: number | undefined, session: string | undefined, origin: OriginSource | undefined): Promise<Readable | typeof STORED> {
    if (length === undefined || length > BUFFERED_BODY_LIMIT) return body;
    const bytes = await bufferBody(body, length, () => blobUploadInvalid('body is longer than its Content-Length'));
    const again = (): Readable => Readable.from([bytes], { objectMode: false });
    if (createDigester(digestAlgorithm(digest)).update(bytes).digest('hex') !== digestHex(digest)) return again();
    try {
      await this.#commitAndLink(repository, id, digest, bytes.length, session, () => this.#storage.commitBytes(uploadKey(id), blobKey(digest), bytes), origin);
    } catch (error) {
      if (error instanceof ExistsError) return again();
      throw error;
    }
    this.#observer?.bytesReceived?.(bytes.length);
    return STORED;
  }

  /** Stores verified bytes at the blob's key (`commit`), then records the blob (and ends the session). */
  async #commitAndLink(repository: RepositoryName, id: string, digest: Digest, size: number, session: string | undefined, commit: () => Promise<void>, origin: OriginSource | undefined): Promise<void> {
    // A blob already stored has the same verified bytes: replacing it atomically is harmless and
    // spares a stat on every push.
    const since = Date.now(); // before the bytes are committed: see linkStoredBlob (docs/gc.md)
    await commit();
    const events = this.#events === undefined ? undefined : [this.#events.event({ action: 'push', kind: 'blob', repository, digest, size }, origin)];
    if (!(await linkStoredBlob(this.#metadata, this.#storage, repository, { digest, size }, session, since, events))) {
      // The collector deleted these bytes as they were committed: the upload is lost, start again.
      if (session !== undefined) await this.#metadata.deleteUpload(session);
      throw blobUploadUnknown(id);
    }
  }

  async #digestOf(id: string, algorithm: 'sha256' | 'sha512', size: number): Promise<string> {
    const running = this.#hashes.get(id);
    if (algorithm === 'sha256' && running !== undefined && running.bytes === size) {
      this.#hashes.delete(id);
      try {
        return await running.hash.digest();
      } catch {
        // The hash worker failed: hash the stored bytes instead, below.
      }
    }
    const hash = createDigester(algorithm);
    let hashed = 0;
    for await (const chunk of await this.#storage.read(uploadKey(id))) {
      hash.update(chunk as Buffer);
      hashed += (chunk as Buffer).length;
    }
    if (hashed !== size) throw sizeInvalid(`stored ${hashed} bytes, expected ${size}`);
    return hash.digest('hex');
  }
}
