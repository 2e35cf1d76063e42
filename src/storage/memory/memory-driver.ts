// In-memory storage driver for tests: the same contract as the filesystem driver, no durability.
import { Readable, Writable } from 'node:stream';
import { checkKey, ExistsError, NotFoundError, settle, type AppendWriter, type ByteRange, type ObjectInfo, type StagedWriter, type StorageDriver } from '../driver.js';

interface Entry {
  chunks: Buffer[];
  size: number;
  modifiedAt: Date;
}

export interface MemoryDriverOptions {
  /** Offer `stage` (as the S3 driver does), so that tests run the callers' staged paths too. */
  readonly stages?: boolean;
}

export class MemoryDriver implements StorageDriver {
  readonly name = 'inmemory';
  readonly #objects = new Map<string, Entry>();
  readonly stage: ((to: string) => Promise<StagedWriter>) | undefined;

  constructor(options: MemoryDriverOptions = {}) {
    this.stage = options.stages === true ? (to) => settle(() => this.#stage(checkKey(to))) : undefined;
  }

  #stage(to: string): StagedWriter {
    const chunks: Buffer[] = [];
    let aborted = false;
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(Buffer.from(chunk));
        callback();
      },
    });
    return {
      stream,
      commit: () =>
        settle(() => {
          if (aborted) throw new Error('storage: the staged write was aborted');
          if (!stream.writableFinished) throw new Error('storage: a staged write is committed only after its stream finished');
          const bytes = Buffer.concat(chunks);
          this.#objects.set(to, { chunks: [bytes], size: bytes.length, modifiedAt: new Date() });
        }),
      abort: () =>
        settle(() => {
          aborted = true;
          stream.destroy();
        }),
    };
  }

  stat(key: string): Promise<ObjectInfo | undefined> {
    return settle(() => {
      const entry = this.#objects.get(checkKey(key));
      return entry === undefined ? undefined : { size: entry.size, modifiedAt: entry.modifiedAt };
    });
  }

  read(key: string, range?: ByteRange): Promise<Readable> {
    return settle(() => {
      const entry = this.#objects.get(checkKey(key));
      if (entry === undefined) throw new NotFoundError(key);
      const whole = Buffer.concat(entry.chunks);
      const bytes = range === undefined ? whole : whole.subarray(range.start, range.end + 1);
      return Readable.from([bytes], { objectMode: false });
    });
  }

  get(key: string): Promise<Buffer> {
    return settle(() => {
      const entry = this.#objects.get(checkKey(key));
      if (entry === undefined) throw new NotFoundError(key);
      return Buffer.concat(entry.chunks);
    });
  }

  put(key: string, bytes: Uint8Array): Promise<void> {
    return settle(() => {
      this.#objects.set(checkKey(key), { chunks: [Buffer.from(bytes)], size: bytes.byteLength, modifiedAt: new Date() });
    });
  }

  append(key: string): Promise<AppendWriter> {
    return settle(() => this.#append(checkKey(key)));
  }

  #append(key: string): AppendWriter {
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
    return { stream, size: target.size };
  }

  commitBytes(from: string, to: string, bytes: Buffer): Promise<void> {
    return settle(() => {
      if (this.#objects.has(checkKey(from))) throw new ExistsError(from);
      this.#objects.set(checkKey(to), { chunks: [Buffer.from(bytes)], size: bytes.length, modifiedAt: new Date() });
    });
  }

  commit(from: string, to: string): Promise<void> {
    return settle(() => {
      const entry = this.#objects.get(checkKey(from));
      checkKey(to);
      if (entry === undefined) throw new NotFoundError(from);
      this.#objects.delete(from);
      this.#objects.set(to, entry);
    });
  }

  delete(keyOrPrefix: string): Promise<void> {
    return settle(() => {
      checkKey(keyOrPrefix);
      if (keyOrPrefix.endsWith('/')) {
        for (const key of [...this.#objects.keys()]) if (key.startsWith(keyOrPrefix)) this.#objects.delete(key);
      } else {
        this.#objects.delete(keyOrPrefix);
      }
    });
  }

  async *list(prefix: string): AsyncIterable<{ readonly key: string } & ObjectInfo> {
    checkKey(prefix);
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    for (const [key, entry] of [...this.#objects]) {
      if (key.startsWith(base)) yield { key, size: entry.size, modifiedAt: entry.modifiedAt };
    }
    await Promise.resolve();
  }
}

