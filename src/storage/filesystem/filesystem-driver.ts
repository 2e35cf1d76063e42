// Filesystem storage driver: one file per key under a root directory. Writes coalesce socket-sized
// chunks into large writes; commit fsyncs the file, renames it and fsyncs the target directory.
import { createReadStream, constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { checkKey, NotFoundError, type AppendWriter, type ByteRange, type ObjectInfo, type StorageDriver } from '../driver.js';

const WRITE_HIGH_WATER_MARK = 1024 * 1024;
const READ_HIGH_WATER_MARK = 512 * 1024;

export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly #root: string;
  /** Directories known to exist: a push then creates none (fan-out directories are never removed). */
  readonly #directories = new Set<string>();

  constructor(rootDirectory: string) {
    this.#root = rootDirectory;
  }

  async #ensureDirectory(path: string): Promise<void> {
    if (this.#directories.has(path)) return;
    await mkdir(path, { recursive: true });
    this.#directories.add(path);
  }

  #path(key: string): string {
    return join(this.#root, checkKey(key));
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.#path(key));
      return info.isFile() ? { size: info.size, modifiedAt: info.mtime } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.#path(key);
    let handle: FileHandle;
    try {
      handle = await open(path, fsConstants.O_RDONLY);
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(key);
      throw error;
    }
    return createReadStream('', {
      fd: handle,
      start: range?.start,
      end: range?.end,
      highWaterMark: READ_HIGH_WATER_MARK,
    });
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.#path(key));
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(key);
      throw error;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.#path(key);
    const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
    await this.#ensureDirectory(dirname(path));
    await writeFile(temporary, bytes, { flush: true });
    await rename(temporary, path);
    await syncDirectory(dirname(path));
  }

  async append(key: string): Promise<AppendWriter> {
    const path = this.#path(key);
    await this.#ensureDirectory(dirname(path));
    const handle = await open(path, 'a');
    return { stream: new FileAppendStream(handle) };
  }

  async commit(from: string, to: string): Promise<void> {
    const source = this.#path(from);
    const target = this.#path(to);
    const handle = await open(source, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.#ensureDirectory(dirname(target));
    await rename(source, target);
    await syncDirectory(dirname(target));
  }

  async delete(keyOrPrefix: string): Promise<void> {
    await rm(this.#path(keyOrPrefix), { recursive: keyOrPrefix.endsWith('/'), force: true });
  }

  async *list(prefix: string): AsyncIterable<{ readonly key: string } & ObjectInfo> {
    const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    yield* this.#walk(base);
  }

  async *#walk(key: string): AsyncIterable<{ readonly key: string } & ObjectInfo> {
    let entries;
    try {
      entries = await readdir(this.#path(key), { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      const child = `${key}/${entry.name}`;
      if (entry.isDirectory()) {
        yield* this.#walk(child);
      } else if (entry.isFile()) {
        const info = await this.stat(child);
        if (info !== undefined) yield { key: child, ...info };
      }
    }
  }
}

/** A Writable over an open file that writes batches of chunks with one writev call each. */
class FileAppendStream extends Writable {
  readonly #handle: FileHandle;

  constructor(handle: FileHandle) {
    super({ highWaterMark: WRITE_HIGH_WATER_MARK });
    this.#handle = handle;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#handle.write(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#handle.writev(chunks.map((entry) => entry.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#handle.close().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#handle.close().then(() => callback(error), () => callback(error));
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
