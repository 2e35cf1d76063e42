// Filling the cache with one blob from the upstream: the upstream's body is written to a private
// upload key, hashed on the way and, verified against the digest, committed to the blob's key and
// linked into the repository. Clients that wait on it get the bytes as they arrive (a tap); the last
// chunk is held back until the digest is verified, so a client never receives a whole body that
// fails verification: its transfer is cut instead. A client that leaves only loses its tap: the
// fill goes on for the cache and for the others. Concurrent pulls of one cold blob share one fill
// (proxy-service.ts keeps them): one upstream fetch.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, pipeline, Readable, type Writable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import { blobKey, uploadKey } from './blob-keys.js';
import type { ChangeRecorder } from './changes.js';
import { linkStoredBlob } from './blob-link.js';
import { createDigester, digestAlgorithm, digestHex, type Digest } from './digest.js';
import type { RepositoryName } from './names.js';
import { UpstreamUnavailableError } from './proxy-errors.js';

/** A body that sends nothing for this long is given up (the upstream stalled). */
export const STALL_TIMEOUT_MS = 30_000;

/**
 * The first bytes of a fill are kept in memory until this many have passed, so that a client that
 * arrives meanwhile (16 clients asking at once arrive over some milliseconds) is streamed the blob
 * too rather than waiting for it to be stored: it gets what passed from memory, then the rest as
 * it arrives. Past it the memory is let go and later clients read the stored blob.
 */
export const REPLAY_BYTES = 4 * 1024 * 1024;

/** A client whose stream stays full this long is cut off (see BlobFill.#send). */
export const TAP_STALL_MS = 10_000;

function drainedOrCut(tap: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      tap.off('drain', done);
      tap.off('close', done);
      resolve();
    };
    const timer = setTimeout(() => {
      tap.destroy(new Error(`the client took no bytes for ${TAP_STALL_MS} ms`));
      done();
    }, TAP_STALL_MS);
    tap.once('drain', done);
    tap.once('close', done);
  });
}

export interface FillTarget {
  readonly metadata: MetadataStore;
  readonly storage: StorageDriver;
  readonly repository: RepositoryName;
  readonly digest: Digest;
  /** Where the fill is reported (a push event with actor `berth:proxy`), when notifications are on. */
  readonly events?: ChangeRecorder | undefined;
}

export class BlobFill {
  readonly digest: Digest;
  /** The upstream's Content-Length, when it sent one. */
  readonly size: number | undefined;
  /** Settles when the blob is committed and linked (resolves) or the fill failed (rejects). */
  readonly done: Promise<void>;
  readonly #taps = new Set<PassThrough>();
  /** The chunks sent to the taps so far, while they are under REPLAY_BYTES; then undefined. */
  #replay: Buffer[] | undefined = [];
  #replayBytes = 0;
  readonly #target: FillTarget;
  readonly #abort: AbortController;
  #started = false;

  readonly #fromUpstream: ((bytes: number) => void) | undefined;

  /** `body` is the upstream's 200 body; `abort` cancels the upstream request; `fromUpstream` hears of the bytes read (metrics). */
  constructor(target: FillTarget, body: WebReadableStream<Uint8Array> | ReadableStream<Uint8Array>, size: number | undefined, abort: AbortController, fromUpstream?: (bytes: number) => void) {
    this.#target = target;
    this.#fromUpstream = fromUpstream;
    this.digest = target.digest;
    this.size = size;
    this.#abort = abort;
    this.done = this.#run(body);
    // Nobody may be waiting on `done`; failures are reported through the taps.
    this.done.catch(() => undefined);
  }

  /**
   * A stream of the blob's bytes for one client. Within the first REPLAY_BYTES it is fed what passed
   * (kept in memory) and then the bytes as they arrive; later, once the fill is committed, from
   * storage. Either way the upstream is asked once.
   */
  tap(): Readable {
    if (!this.#started || this.#replay !== undefined) {
      const tap = new PassThrough({ highWaterMark: 1024 * 1024 });
      // Synchronously with joining: no chunk can be sent between the replay and the join.
      for (const chunk of this.#replay ?? []) tap.write(chunk);
      this.#taps.add(tap);
      tap.once('close', () => this.#taps.delete(tap));
      return tap;
    }
    const later = new PassThrough();
    this.done.then(
      async () => {
        if (later.destroyed) return;
        const source = await this.#target.storage.read(blobKey(this.digest));
        pipeline(source, later, () => undefined);
      },
      (error: unknown) => later.destroy(error as Error),
    ).catch((error: unknown) => later.destroy(error as Error));
    return later;
  }

  async #run(body: WebReadableStream<Uint8Array> | ReadableStream<Uint8Array>): Promise<void> {
    const { storage, metadata, repository, digest, events: recorder } = this.#target;
    const id = randomUUID();
    const hash = createDigester(digestAlgorithm(digest));
    let received = 0;
    let held: Buffer | undefined;
    let stall: NodeJS.Timeout | undefined;
    const armStall = (): void => {
      clearTimeout(stall);
      stall = setTimeout(() => this.#abort.abort(new UpstreamUnavailableError(`no bytes of ${digest} for ${STALL_TIMEOUT_MS} ms`)), STALL_TIMEOUT_MS);
    };
    let writer: { stream: Writable } | undefined;
    try {
      writer = await storage.append(uploadKey(id), { last: true });
      const source = Readable.fromWeb(body as WebReadableStream<Uint8Array>, { signal: this.#abort.signal });
      armStall();
      for await (const piece of source) {
        this.#started = true;
        armStall();
        const chunk = piece as Buffer;
        received += chunk.length;
        this.#fromUpstream?.(chunk.length);
        if (this.size !== undefined && received > this.size) throw new UpstreamUnavailableError(`the upstream sent more than the ${this.size} bytes of ${digest} it announced`);
        hash.update(chunk);
        const written = writer.stream.write(chunk) ? undefined : once(writer.stream, 'drain');
        const sent = held === undefined ? undefined : this.#send(held);
        if (held !== undefined && this.#replay !== undefined) {
          this.#replay.push(held);
          this.#replayBytes += held.length;
          if (this.#replayBytes > REPLAY_BYTES) this.#replay = undefined;
        }
        held = chunk;
        await Promise.all([written, sent]);
      }
      this.#started = true;
      // Clients arriving from now on read the stored blob: the last chunk is held back for verification.
      this.#replay = undefined;
      clearTimeout(stall);
      writer.stream.end();
      await once(writer.stream, 'finish');
      if (this.size !== undefined && received !== this.size) throw new UpstreamUnavailableError(`the upstream sent ${received} of the ${this.size} bytes of ${digest}`);
      const actual = hash.digest('hex');
      if (actual !== digestHex(digest)) throw new UpstreamUnavailableError(`the upstream's bytes for ${digest} hash to ${digestAlgorithm(digest)}:${actual}`);
      const since = Date.now(); // before the commit: see linkStoredBlob
      await storage.commit(uploadKey(id), blobKey(digest));
      const events = recorder === undefined ? undefined : [recorder.event({ action: 'push', kind: 'blob', repository, digest, size: received }, 'proxy')];
      if (!(await linkStoredBlob(metadata, storage, repository, { digest, size: received }, undefined, since, events))) {
        throw new UpstreamUnavailableError(`${digest} was collected as it was stored; pull again`);
      }
    } catch (error) {
      clearTimeout(stall);
      this.#replay = undefined;
      this.#abort.abort(error);
      writer?.stream.destroy();
      await storage.delete(uploadKey(id)).catch(() => undefined);
      const failure = error instanceof UpstreamUnavailableError ? error : new UpstreamUnavailableError(`fetching ${digest} failed: ${(error as Error).message}`, { cause: error });
      for (const tap of this.#taps) tap.destroy(failure);
      throw failure;
    }
    // Verified and committed: the held-back last chunk completes every client's body.
    for (const tap of this.#taps) tap.end(held);
  }

  /**
   * Writes the chunk to every tap; resolves when each has room again (or went away). A client that
   * takes no bytes for TAP_STALL_MS is cut off, so that it cannot hold the fill back for the others
   * (it may pull again, from the cache).
   */
  async #send(chunk: Buffer): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const tap of this.#taps) {
      if (tap.destroyed) continue;
      if (!tap.write(chunk)) waits.push(drainedOrCut(tap));
    }
    if (waits.length > 0) await Promise.all(waits);
  }
}
