// A hash worker thread (src/registry/hash-worker-thread.ts) that dies, as a worker can (out of
// memory, a native crash), once it is sent a block of exactly 777 bytes: the thread exits
// with status 70 right after the real worker handled that block. Until then it is the real worker.
import { parentPort } from 'node:worker_threads';
import type { HashRequest } from '../../src/registry/hash-worker-thread.js';
// Imported for its effect: it listens on parentPort first, so no request that arrives while this
// module loads is missed. (It hands each block back, detached here: only the length is left to see.)
import '../../src/registry/hash-worker-thread.js';

parentPort?.on('message', (request: HashRequest) => {
  if (request.op === 'update' && request.length === 777) process.exit(70);
});
