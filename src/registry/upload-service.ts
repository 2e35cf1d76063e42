// Blob uploads: sessions, streamed and chunked appends, completion with verification, mounts.
// Bytes go to a private upload key, are hashed while written, verified, made durable and moved to
// their content-addressed key; only then does the metadata store learn of the blob. A small body
// that is the whole blob is verified in memory first and then written, synced and moved in one step;
// a large one, on a driver that stages writes (S3), is written at the blob's key itself, verified on
// the way and committed there.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { MetadataStore, UploadState } from '../metadata/store.js';
import { ExistsError, type AppendWriter, type StagedWriter, type StorageDriver } from '../storage/driver.js';
import { blobKey, uploadKey } from './blob-keys.js';
import { linkStoredBlob } from './blob-link.js';
import type { ChangeRecorder, OriginSource } from './changes.js';
import { bufferBody, copyBody } from './body-copy.js';
import { createDigester, digestAlgorithm, digestHex, type Digest } from './digest.js';
import { blobUploadInvalid, blobUploadUnknown, digestInvalid, sizeInvalid, uploadRangeInvalid } from './errors.js';
import type { RepositoryName } from './names.js';
import type { QuotaChecker } from './quota.js';
import { uploadPath } from './paths.js';
import { newSha256, restoreSha256, type ResumableSha256 } from './resumable-sha256.js';
import { inlineDigest, offloadedDigest, offloadedResumableDigest, offloads, type HashWorker, type StreamDigest } from './stream-digest.js';

/**
 * A running sha256 over the bytes stored so far. In one process (`shared` off) it stays in memory
 * between requests and is lost on restart (then the stored bytes are hashed again at completion);
 * with `shared` it is resumable, loaded from the session's state at the start of each request and
 * saved back at its end.
 */
interface RunningHash {
  hash: StreamDigest;
  bytes: number;
}

/** A request's claim on an upload session (shared mode): renewed while it writes. */
interface Claim {
  readonly token: string;
  version: number;
  /** The claim could not be renewed: another request may have taken the session over. */
  lost: boolean;
}

/** How long a writer's claim on a session holds without renewal (a killed instance's claim expires). */
export const UPLOAD_CLAIM_MS = 60_000;

export interface UploadServiceOptions {
  /**
   * Several processes serve this metadata store (PostgreSQL, or cluster workers): the session's
   * running hash and its writer live in the store (UploadState), so that any process continues an
   * upload and two requests racing on two processes cannot both write. Off, they live in memory.
   */
  readonly shared?: boolean;
  /** UPLOAD_CLAIM_MS unless a test shortens it. */
  readonly claimMs?: number;
  /**
   * Shared mode where every process sharing the store is started together (SQLite: one machine's
   * supervisor and its workers): the id of this start. A claim made under another start was left by
   * a process that no longer runs (kill -9, power loss) and is taken over at once instead of blocking
   * the session until it expires. Undefined (PostgreSQL: other instances' claims are alive for all
   * this process knows): claims end only by release or expiry.
   */
  readonly boot?: string;
}

function resumableDigest(hash: ResumableSha256): StreamDigest {
  return {
    update(chunk) {
      hash.update(chunk);
      return undefined;
    },
    digest: () => Promise.resolve(hash.digest()),
    dispose: () => undefined,
    save: () => Promise.resolve(hash.save()),
  };
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
  readonly #shared: boolean;
  readonly #claimMs: number;
  readonly #boot: string | undefined;
  /** Claims this process holds (shared mode), by session. */
  readonly #claims = new Map<string, Claim>();

  constructor(metadata: MetadataStore, storage: StorageDriver, quotas?: QuotaChecker, hashWorker?: HashWorker, observer?: UploadObserver, events?: ChangeRecorder, options: UploadServiceOptions = {}) {
    this.#events = events;
    this.#shared = options.shared ?? false;
    this.#claimMs = options.claimMs ?? UPLOAD_CLAIM_MS;
    this.#boot = options.boot;
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
    // Inline until the first body shows how long it is (see #write). Shared: made by #claimed.
    if (!this.#shared) this.#hashes.set(id, { hash: inlineDigest(), bytes: 0 });
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
      if (body !== undefined && (this.#hashes.get(id)?.bytes ?? 0) === 0) {
        last = await this.#storeWhole(repository, id, digest, body, length, id, origin);
        // A large body that is the whole blob (the upload holds no bytes, in any process): staged.
        if (last === body && this.#storage.stage !== undefined && (await this.#storage.stat(uploadKey(id))) === undefined) {
          await this.#stageWhole(repository, id, digest, body, length, id, origin);
          last = STORED;
        }
      }
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
      if (whole === body && this.#storage.stage !== undefined) {
        await this.#stageWhole(repository, id, digest, body, length, undefined, origin);
        return;
      }
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

  async #exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    if (this.#shared) return this.#claimed(id, work);
    if (this.#busy.has(id)) throw blobUploadInvalid('another request is writing to this upload');
    this.#busy.add(id);
    try {
      return await work();
    } finally {
      this.#busy.delete(id);
    }
  }

  /**
   * Shared mode: runs `work` holding the session's claim in the metadata store, with its running hash
   * loaded from the session's state; afterwards saves the hash and releases the claim (both in one
   * compare-and-set). A session another request has claimed (and whose claim has not expired) is
   * refused with BLOB_UPLOAD_INVALID, as is one whose claim changes hands as this request takes it.
   */
  async #claimed<T>(id: string, work: () => Promise<T>): Promise<T> {
    const busy = (): Error => blobUploadInvalid('another request is writing to this upload');
    const state = await this.#metadata.getUploadState(id);
    if (state === undefined) throw blobUploadUnknown(id);
    if (this.#claims.has(id) || (state.writer !== null && state.writerUntil > Date.now() && !this.#leftByEarlierStart(state.writer))) throw busy();
    const claim: Claim = { token: this.#boot === undefined ? randomUUID() : `${this.#boot}/${randomUUID()}`, version: state.version, lost: false };
    if (!(await this.#metadata.casUploadState(id, claim.version, { offset: state.offset, hashState: state.hashState, writer: claim.token, writerUntil: Date.now() + this.#claimMs }))) throw busy();
    if (this.#claims.has(id)) throw busy();
    claim.version++;
    this.#claims.set(id, claim);
    // Renewals and the release are one chain: never two compare-and-sets of one claim at once.
    let chain: Promise<unknown> = Promise.resolve();
    const renew = setInterval(() => {
      chain = chain.then(async () => {
        if (claim.lost) return;
        if (await this.#metadata.casUploadState(id, claim.version, { offset: state.offset, hashState: state.hashState, writer: claim.token, writerUntil: Date.now() + this.#claimMs })) claim.version++;
        else claim.lost = true;
      }).catch(() => (claim.lost = true));
    }, Math.max(1, Math.floor(this.#claimMs / 3)));
    const release = async (next: Pick<UploadState, 'offset' | 'hashState'>): Promise<boolean> => {
      clearInterval(renew);
      await chain;
      return !claim.lost && this.#metadata.casUploadState(id, claim.version, { ...next, writer: null, writerUntil: 0 });
    };
    try {
      await this.#loadHash(id, state);
      let result: T;
      try {
        result = await work();
      } catch (error) {
        // What is stored may have changed (a partial append): the size check in #write sees it.
        await release(state).catch(() => undefined);
        throw error;
      }
      const running = this.#hashes.get(id);
      // A hash that cannot be saved (its worker failed) is not saved: the next request re-reads.
      const saved = await running?.hash.save?.().catch(() => undefined);
      // A completed session is gone (linkBlob ended it): nothing to release.
      if ((await this.#metadata.hasUpload(id)) && !(await release(saved === undefined || running === undefined ? { offset: 0, hashState: null } : { offset: running.bytes, hashState: saved }))) {
        throw blobUploadInvalid('the upload was taken over by another request while this one wrote');
      }
      return result;
    } finally {
      clearInterval(renew);
      this.#claims.delete(id);
      this.#forget(id);
    }
  }

  /** A claim made before this start of every process that shares the store (UploadServiceOptions.boot). */
  #leftByEarlierStart(writer: string): boolean {
    return this.#boot !== undefined && !writer.startsWith(`${this.#boot}/`);
  }

  /** Shared mode: the session's running hash from its saved state (none when it cannot be loaded). */
  async #loadHash(id: string, state: UploadState): Promise<void> {
    this.#forget(id);
    const hash = state.hashState !== null ? await restoreSha256(state.hashState) : state.offset === 0 ? await newSha256() : undefined;
    if (hash !== undefined) this.#hashes.set(id, { hash: resumableDigest(hash), bytes: state.offset });
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
    if (running !== undefined && running.bytes === 0 && running.hash.save === undefined && offloads(length)) {
      running.hash.dispose();
      running.hash = offloadedDigest(this.#hashWorker);
    }
    // Shared mode: a large body moves the resumable hash, state and all, to the worker thread.
    if (running !== undefined && running.hash.save !== undefined && running.hash.offloaded !== true && offloads(length)) {
      const state = await running.hash.save();
      running.hash.dispose();
      running.hash = offloadedResumableDigest(state, this.#hashWorker);
    }
    let written = 0;
    try {
      await copyBody(body, writer.stream, (chunk) => {
        // A Content-Range length: the chunk that would pass it is refused before it is written.
        if (limit !== undefined && written + chunk.length > limit) throw blobUploadInvalid('body is longer than its Content-Range');
        // Shared mode: another request may have taken the session over; stop before storing more.
        if (this.#claims.get(id)?.lost === true) throw blobUploadInvalid('the upload was taken over by another request while this one wrote');
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

  /**
   * A body that is the whole blob, on a driver that stages writes (S3): streamed straight to the
   * blob's key as a staged write, hashed on the way, and committed there only if it has the digest
   * (a wrong one: DIGEST_INVALID, nothing stored). No upload key is written, copied or deleted.
   */
  async #stageWhole(repository: RepositoryName, id: string, digest: Digest, body: Readable, length: number | undefined, session: string | undefined, origin: OriginSource | undefined): Promise<void> {
    const staged = await (this.#storage.stage as (to: string) => Promise<StagedWriter>).call(this.#storage, blobKey(digest));
    const algorithm = digestAlgorithm(digest);
    // Hashed on this thread: the bytes cannot be read back before the commit, so a hash worker that
    // failed would leave nothing to verify them by.
    const hash = createDigester(algorithm);
    try {
      let size = 0;
      await copyBody(body, staged.stream, (chunk) => {
        if (length !== undefined && size + chunk.length > length) throw blobUploadInvalid('body is longer than its Content-Length');
        size += chunk.length;
        hash.update(chunk);
        return undefined;
      });
      const actual = hash.digest('hex');
      if (actual !== digestHex(digest)) throw digestInvalid(`upload hashes to ${algorithm}:${actual}`, digest);
      this.#observer?.bytesReceived?.(size);
      await this.#commitAndLink(repository, id, digest, size, session, () => staged.commit(), origin);
    } catch (error) {
      await staged.abort();
      throw error;
    }
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
