// Client threads that pull blobs in parallel, as docker and containerd fetch an image's layers
// (three at a time by default). Each thread receives and hashes its own blob (pullBlob: status,
// Docker-Content-Digest, byte count and sha256 checked), so the client is not bound to one core.
import { Worker } from 'node:worker_threads';
import { BenchError } from './client.mjs';

export class PullWorkers {
  constructor(count) {
    this.workers = Array.from({ length: count }, () => new Worker(new URL('./pull-worker.mjs', import.meta.url)));
  }

  /** Pulls every blob once, each free thread taking the next; rejects on the first failed check. */
  async pullAll(base, repo, blobs) {
    let next = 0;
    await Promise.all(
      this.workers.map(async (worker) => {
        while (next < blobs.length) {
          const blob = blobs[next++];
          await new Promise((resolve, reject) => {
            worker.once('message', (m) => (m.error === undefined ? resolve() : reject(new BenchError(m.error))));
            worker.postMessage({ base, repo, blob: { label: blob.label, digest: blob.digest, size: blob.size } });
          });
        }
      }),
    );
  }

  close() {
    return Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
