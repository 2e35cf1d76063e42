// Runs in a worker thread (see stream-digest.ts): one running sha256 per id, fed the blocks it is sent
// in order. Each block goes back with its acknowledgement: the sender bounds the bytes in flight, and
// fills the block again.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

export type HashRequest =
  | { readonly op: 'update'; readonly id: number; readonly block: ArrayBuffer; readonly length: number }
  | { readonly op: 'digest'; readonly id: number }
  | { readonly op: 'drop'; readonly id: number };

export type HashReply =
  | { readonly op: 'ack'; readonly id: number; readonly block: ArrayBuffer; readonly length: number }
  | { readonly op: 'digest'; readonly id: number; readonly hex: string };

const hashes = new Map<number, Hash>();

function running(id: number): Hash {
  let hash = hashes.get(id);
  if (hash === undefined) {
    hash = createHash('sha256');
    hashes.set(id, hash);
  }
  return hash;
}

parentPort?.on('message', (request: HashRequest) => {
  switch (request.op) {
    case 'update': {
      running(request.id).update(new Uint8Array(request.block, 0, request.length));
      const reply: HashReply = { op: 'ack', id: request.id, block: request.block, length: request.length };
      parentPort?.postMessage(reply, [request.block]);
      break;
    }
    case 'digest': {
      const hex = running(request.id).digest('hex');
      hashes.delete(request.id);
      parentPort?.postMessage({ op: 'digest', id: request.id, hex } satisfies HashReply);
      break;
    }
    case 'drop':
      hashes.delete(request.id);
      break;
  }
});
