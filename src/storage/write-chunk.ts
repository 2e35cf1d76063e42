// Writing one chunk to a Writable and knowing when it was taken, for drivers that copy into a
// destination they do not end (copyTo).
import type { Writable } from 'node:stream';

/** Writes a chunk and resolves once the destination has taken it (its write callback). */
export function writeChunk(destination: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (destination.destroyed) {
      reject(new Error('destination closed'));
      return;
    }
    destination.write(chunk, (error) => (error === undefined || error === null ? resolve() : reject(error)));
  });
}
