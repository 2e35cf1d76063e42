// Runs in a worker thread (see stream-digest.ts): one running sha256 per id, fed the blocks it is sent
// in order. Each block goes back with its acknowledgement: the sender bounds the bytes in flight, and
// fills the block again.
//
// A resumable digest (resumable-sha256.ts) is started with 'start' (from a saved state, or fresh) and
// can report its state with 'save' without ending; a state that cannot be loaded fails the digest.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { newSha256, restoreSha256, type ResumableSha256 } from './resumable-sha256.js';

export type HashRequest =
  | { readonly op: 'start'; readonly id: number; readonly state: ArrayBuffer | null }
  | { readonly op: 'save'; readonly id: number }
  | { readonly op: 'update'; readonly id: number; readonly block: ArrayBuffer; readonly length: number }
  | { readonly op: 'digest'; readonly id: number }
  | { readonly op: 'drop'; readonly id: number };

export type HashReply =
  | { readonly op: 'ack'; readonly id: number; readonly block: ArrayBuffer; readonly length: number }
  | { readonly op: 'digest'; readonly id: number; readonly hex: string }
  | { readonly op: 'state'; readonly id: number; readonly state: ArrayBuffer }
  | { readonly op: 'started'; readonly id: number }
  | { readonly op: 'failed'; readonly id: number; readonly message: string };
// Every request but 'drop' gets exactly one reply ('failed' instead of the usual one on a failure).

const hashes = new Map<number, Hash>();
const resumable = new Map<number, ResumableSha256>();
/** Ids whose 'start' failed: their requests are ignored (the digest was failed once). */
const broken = new Set<number>();

function running(id: number): Hash | ResumableSha256 {
  const saved = resumable.get(id);
  if (saved !== undefined) return saved;
  let hash = hashes.get(id);
  if (hash === undefined) {
    hash = createHash('sha256');
    hashes.set(id, hash);
  }
  return hash;
}

async function start(id: number, state: ArrayBuffer | null): Promise<void> {
  const hash = state === null ? await newSha256() : await restoreSha256(Buffer.from(state));
  if (hash === undefined) {
    broken.add(id);
    parentPort?.postMessage({ op: 'failed', id, message: 'the saved hash state cannot be loaded here' } satisfies HashReply);
    return;
  }
  resumable.set(id, hash);
  parentPort?.postMessage({ op: 'started', id } satisfies HashReply);
}

// Handled one after another ('start' may wait for hash-wasm to load): in the order they were sent.
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (request: HashRequest) => {
  queue = queue.then(() => handle(request)).catch((error: unknown) => {
    parentPort?.postMessage({ op: 'failed', id: request.id, message: error instanceof Error ? error.message : String(error) } satisfies HashReply);
  });
});

async function handle(request: HashRequest): Promise<void> {
  if (broken.has(request.id) && request.op !== 'update') {
    if (request.op === 'drop') broken.delete(request.id);
    else parentPort?.postMessage({ op: 'failed', id: request.id, message: 'the saved hash state cannot be loaded here' } satisfies HashReply);
    if (request.op === 'digest') broken.delete(request.id);
    return;
  }
  switch (request.op) {
    case 'start':
      await start(request.id, request.state);
      break;
    case 'save': {
      const hash = resumable.get(request.id);
      if (hash === undefined) throw new Error('no resumable hash to save');
      const state = new Uint8Array(hash.save()).buffer;
      parentPort?.postMessage({ op: 'state', id: request.id, state } satisfies HashReply, [state]);
      break;
    }
    case 'update': {
      if (!broken.has(request.id)) running(request.id).update(new Uint8Array(request.block, 0, request.length));
      const reply: HashReply = { op: 'ack', id: request.id, block: request.block, length: request.length };
      parentPort?.postMessage(reply, [request.block]);
      break;
    }
    case 'digest': {
      const hash = running(request.id);
      const hex = 'save' in hash ? hash.digest() : hash.digest('hex');
      hashes.delete(request.id);
      resumable.delete(request.id);
      parentPort?.postMessage({ op: 'digest', id: request.id, hex } satisfies HashReply);
      break;
    }
    case 'drop':
      hashes.delete(request.id);
      resumable.delete(request.id);
      break;
  }
}
