// Running sha256 digests of upload bodies: inline on the event loop for small bodies, or on a worker
// thread for large ones.
//
// Hashing was the largest single cost of the event loop during a large push: in a chunked push of
// 256 MiB, sha256 took 38% of the main thread's busy time (CPU profile), and the thread was 70% busy.
// So a body of OFFLOAD_MIN or more (or of unknown length) is hashed on a worker thread. The event loop
// copies its chunks into 1 MiB blocks and hands each one over (transferred, not copied again); the
// worker hands it back with its acknowledgement, and it is filled again: blocks are reused, not left
// to the garbage collector (which let a push raise the server's RSS by 100 MiB). At most IN_FLIGHT
// bytes per digest wait to be hashed, beyond which the body is paused. A small body stays inline: a
// round trip to the worker per blob would slow a push of many small images.
// Measured (A/B, alternating builds, against the same server otherwise): chunked push of 256 MiB
// 355 → 425 MiB/s (medians of five), monolithic 512 MiB 357–531 → 386–733 MiB/s; the server's CPU
// went from about 110% to 140% of a core (the worker, and the copy into blocks).
// If the worker fails, its digests reject and the caller hashes the stored bytes instead.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { HashReply, HashRequest } from './hash-worker-thread.js';

/** Bodies at least this long (or of unknown length) are hashed on the worker thread. */
export const OFFLOAD_MIN = 1024 * 1024;
const BLOCK = 1024 * 1024;
const IN_FLIGHT = 2 * BLOCK;
/** Blocks kept for reuse once the worker handed them back (the rest are dropped). */
const SPARE_BLOCKS = 8;
/**
 * The worker stops after this long with no digest running, and starts again with the next large
 * body: its isolate and blocks (about 10 MiB) are not held between pushes.
 */
const IDLE_MS = 10_000;

export interface StreamDigest {
  /** Adds bytes; returns a promise when the caller should wait for it before adding more. */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The hex sha256 of everything added; the digest is used up. */
  digest(): Promise<string>;
  /** Forgets the digest (its upload ended some other way). */
  dispose(): void;
  /** The running state, when this digest can be saved and restored (resumable-sha256.ts). */
  save?(): Buffer;
}

/** Whether a body of `length` bytes (undefined: unknown, streamed) is hashed on the worker thread. */
export function offloads(length: number | undefined): boolean {
  return length === undefined || length >= OFFLOAD_MIN;
}

/** A digest hashed on the worker thread (the process's own, unless a test passes another). */
export function offloadedDigest(worker: HashWorker = hashWorker): StreamDigest {
  return new OffloadedDigest(worker);
}

/** A digest hashed on the calling thread. */
export function inlineDigest(): StreamDigest {
  const hash = createHash('sha256');
  return {
    update(chunk) {
      hash.update(chunk);
      return undefined;
    },
    digest: () => Promise.resolve(hash.digest('hex')),
    dispose: () => undefined,
  };
}

export interface HashWorkerOptions {
  /** How long the worker stays up with no digest registered (IDLE_MS). */
  readonly idleMs?: number;
  /** The worker's script (hash-worker-thread.js); tests pass one that fails on purpose. */
  readonly script?: URL;
}

/** The worker thread and the digests it runs; started on first use, stopped when idle, restarted after a failure. */
export class HashWorker {
  readonly #idleMs: number;
  readonly #script: URL;
  #worker: Worker | undefined;
  #idle: NodeJS.Timeout | undefined;
  #nextId = 1;
  readonly #digests = new Map<number, OffloadedDigest>();
  readonly #spare: ArrayBuffer[] = [];
  /** Replies still to come (an ack per block, the digest): the worker keeps the process alive meanwhile. */
  #awaited = 0;

  constructor(options: HashWorkerOptions = {}) {
    this.#idleMs = options.idleMs ?? IDLE_MS;
    this.#script = options.script ?? new URL('./hash-worker-thread.js', import.meta.url);
  }

  /** The running worker thread's id; undefined while none runs (not started yet, stopped when idle, failed). */
  get threadId(): number | undefined {
    return this.#worker?.threadId;
  }

  register(digest: OffloadedDigest): number {
    const id = this.#nextId++;
    this.#digests.set(id, digest);
    clearTimeout(this.#idle);
    this.#idle = undefined;
    return id;
  }

  unregister(id: number): void {
    this.#digests.delete(id);
    if (this.#digests.size > 0 || this.#worker === undefined) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.#stopIfIdle(), this.#idleMs).unref();
  }

  /** Stops the worker when no digest is registered (a registered one keeps its running hash there). */
  #stopIfIdle(): void {
    this.#idle = undefined;
    const worker = this.#worker;
    if (worker === undefined || this.#digests.size > 0) return;
    // Forgotten first: its exit is then not taken for a failure.
    this.#worker = undefined;
    this.#awaited = 0;
    this.#spare.length = 0;
    void worker.terminate();
  }

  /** A block of BLOCK bytes to fill, reused when one came back. */
  block(): ArrayBuffer {
    return this.#spare.pop() ?? new ArrayBuffer(BLOCK);
  }

  post(request: HashRequest, transfer: ArrayBuffer[] = []): void {
    // A stopped worker holds no hash to drop.
    if (request.op === 'drop' && this.#worker === undefined) return;
    const worker = this.#running();
    if (request.op !== 'drop' && this.#awaited++ === 0) worker.ref();
    worker.postMessage(request, transfer);
  }

  #replied(worker: Worker): void {
    if (--this.#awaited === 0) worker.unref();
  }

  #running(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(this.#script);
    worker.on('message', (reply: HashReply) => {
      this.#replied(worker);
      const digest = this.#digests.get(reply.id);
      if (reply.op === 'ack') {
        if (this.#spare.length < SPARE_BLOCKS) this.#spare.push(reply.block);
        digest?.acknowledged(reply.length);
      } else digest?.finished(reply.hex);
    });
    const fail = (error: Error): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#awaited = 0;
      const digests = [...this.#digests.values()];
      this.#digests.clear();
      for (const digest of digests) digest.failed(error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the hash worker exited (${code})`)));
    // Only while replies are awaited does it keep the process alive (see post).
    worker.unref();
    this.#worker = worker;
    return worker;
  }
}

const hashWorker = new HashWorker();

class OffloadedDigest implements StreamDigest {
  readonly #worker: HashWorker;
  readonly #id: number;
  /** The block being filled (and a view of it), and how much of it is. */
  #block: { readonly buffer: ArrayBuffer; readonly view: Buffer } | undefined;
  #filled = 0;
  /** Bytes handed to the worker and not yet acknowledged. */
  #inFlight = 0;
  #error: Error | undefined;
  #drained: (() => void) | undefined;
  #result: { resolve: (hex: string) => void; reject: (error: Error) => void } | undefined;

  constructor(worker: HashWorker) {
    this.#worker = worker;
    this.#id = worker.register(this);
  }

  update(chunk: Buffer): Promise<void> | undefined {
    if (this.#error !== undefined) return undefined;
    for (let at = 0; at < chunk.length; ) {
      if (this.#block === undefined) {
        const buffer = this.#worker.block();
        this.#block = { buffer, view: Buffer.from(buffer) };
      }
      const copied = chunk.copy(this.#block.view, this.#filled, at);
      at += copied;
      this.#filled += copied;
      if (this.#filled === this.#block.view.length) this.#flush();
    }
    if (this.#inFlight <= IN_FLIGHT) return undefined;
    return new Promise((resolve) => (this.#drained = resolve));
  }

  digest(): Promise<string> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#result = { resolve, reject };
      this.#flush();
      this.#worker.post({ op: 'digest', id: this.#id });
    });
  }

  dispose(): void {
    if (this.#error === undefined && this.#result === undefined) this.#worker.post({ op: 'drop', id: this.#id });
    this.#worker.unregister(this.#id);
    this.#release();
  }

  acknowledged(bytes: number): void {
    this.#inFlight -= bytes;
    if (this.#inFlight <= IN_FLIGHT / 2) this.#release();
  }

  finished(hex: string): void {
    this.#worker.unregister(this.#id);
    this.#result?.resolve(hex);
  }

  failed(error: Error): void {
    this.#error = error;
    this.#block = undefined;
    this.#release();
    this.#result?.reject(error);
  }

  /** Transfers the block being filled to the worker (it comes back with the acknowledgement). */
  #flush(): void {
    const block = this.#block;
    if (block === undefined || this.#filled === 0) return;
    const length = this.#filled;
    this.#block = undefined;
    this.#filled = 0;
    this.#inFlight += length;
    this.#worker.post({ op: 'update', id: this.#id, block: block.buffer, length }, [block.buffer]);
  }

  #release(): void {
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
  }
}
