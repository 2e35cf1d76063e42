// One client thread of PullWorkers (parallel-pulls.mjs): pulls the blobs it is sent, hashing each.
import { parentPort } from 'node:worker_threads';
import { pullBlob } from './client.mjs';

parentPort.on('message', async ({ base, repo, blob }) => {
  try {
    await pullBlob(base, repo, blob);
    parentPort.postMessage({ ok: true });
  } catch (e) {
    parentPort.postMessage({ error: String(e?.message ?? e) });
  }
});
