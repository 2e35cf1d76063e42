// In-memory storage driver for tests: the same contract as the filesystem driver, no durability.
import { Readable, Writable } from 'node:stream';
import { checkKey, NotFoundError, type AppendWriter, type ByteRange, type ObjectInfo, type StorageDriver } from '../driver.js';

interface Entry {
  chunks: Buffer[];
  size: number;
  modifiedAt: Date;
}

export class MemoryDriver implements StorageDriver {
  readonly name = 'inmemory';
  readonly #objects = new Map<string, Entry>();

  stat(key: string): Promise<ObjectInfo | undefined> {
    const entry = this.#objects.get(checkKey(key));
    return Promise.resolve(entry === undefined ? undefined : { size: entry.size, modifiedAt: entry.modifiedAt });
  }

  read(key: string, range?: ByteRange): Promise<Readable> {
    const entry = this.#objects.get(checkKey(key));
    if (entry === undefined) return Promise.reject(new NotFoundError(key));
    const whole = Buffer.concat(entry.chunks);
    const bytes = range === undefined ? whole : whole.subarray(range.start, range.end + 1);
    return Promise.resolve(Readable.from([bytes], { objectMode: false }));
  }

  get(key: string): Promise<Buffer> {
    const entry = this.#objects.get(checkKey(key));
    if (entry === undefined) return Promise.reject(new NotFoundError(key));
    return Promise.resolve(Buffer.concat(entry.chunks));
  }

  put(key: string, bytes: Uint8Array): Promise<void> {
    this.#objects.set(checkKey(key), { chunks: [Buffer.from(bytes)], size: bytes.byteLength, modifiedAt: new Date() });
    return Promise.resolve();
  }

  append(key: string): Promise<AppendWriter> {
    checkKey(key);
    let entry = this.#objects.get(key);
    if (entry === undefined) {
      entry = { chunks: [], size: 0, modifiedAt: new Date() };
      this.#objects.set(key, entry);
    }
    const target = entry;
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        target.chunks.push(Buffer.from(chunk));
        target.size += chunk.length;
        target.modifiedAt = new Date();
        callback();
      },
    });
    return Promise.resolve({ stream });
  }

  commit(from: string, to: string): Promise<void> {
    const entry = this.#objects.get(checkKey(from));
    if (entry === undefined) return Promise.reject(new NotFoundError(from));
    this.#objects.delete(from);
    this.#objects.set(checkKey(to), entry);
    return Promise.resolve();
  }

  delete(keyOrPrefix: string): Promise<void> {
    checkKey(keyOrPrefix);
    if (keyOrPrefix.endsWith('/')) {
      for (const key of [...this.#objects.keys()]) if (key.startsWith(keyOrPrefix)) this.#objects.delete(key);
    } else {
      this.#objects.delete(keyOrPrefix);
    }
    return Promise.resolve();
  }

  async *list(prefix: string): AsyncIterable<{ readonly key: string } & ObjectInfo> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    for (const [key, entry] of [...this.#objects]) {
      if (key.startsWith(base)) yield { key, size: entry.size, modifiedAt: entry.modifiedAt };
    }
    await Promise.resolve();
  }
}
