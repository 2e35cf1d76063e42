// Filesystem storage driver: one file per key under a root directory.
//
// Read-only metadata syscalls (stat, opening for read) are made synchronously: on a local filesystem
// they take a few microseconds, while their async forms cost 15–35 µs of CPU each for the thread-pool
// round trip (measured here: stat 2.5 vs 15.8 µs, open+close 3.0 vs 26.9 µs). Anything that writes
// (create, rename, unlink, fsync) stays asynchronous: under concurrent pushes it waits on the
// filesystem journal behind other fsyncs, which must not stall the event loop. Descriptors are plain
// numbers (no FileHandle objects). Appends are not fsynced before they are acknowledged (a chunked
// upload would pay one fsync per PATCH); commit fsyncs the file once, renames it and fsyncs the
// target directory. So that this one fsync does not have to write a whole large blob out, appends
// write behind: every WRITE_BEHIND bytes, and at the end of a stream with half as many unsynced, an
// fdatasync starts in the background (nobody waits for it, its failure fails the commit). A stream
// the caller marks `last` (a PUT body, committed next) is fdatasynced before it finishes, on the
// descriptor it wrote through, and commit then skips its own fsync of the file. Directories are
// fsynced through descriptors kept open (one per fan-out directory), not opened for each commit.
// Files this driver wrote are closed synchronously (a few microseconds, no pool round trip).
// commitBytes (a small blob's whole body) goes, when the native helper was built, as one pool job
// that creates, fdatasyncs, renames and fsyncs the directory, instead of five round trips.
// Reads go out either through copyTo (a ring of reused buffers) or, when the native helper was built,
// through sendFileTo: zero-copy sendfile(2) from the file to the client's socket. Should the system
// refuse sendfile for this filesystem (EINVAL and the like), that transfer goes on through the copy
// path from where sendfile stopped, and so do all later ones.
import { constants } from 'node:os';
import { close, closeSync, createReadStream, fdatasync, link, fstatSync, fsync, mkdirSync, open, openSync, read, readFileSync, rename, statSync, unlink, write, writev } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import { nativeSendFile, nativeWriteAndRename, type SendFile, type WriteAndRename } from './native-helpers.js';
import { checkKey, ExistsError, NotFoundError, settle, type AppendOptions, type AppendWriter, type ByteRange, type ObjectInfo, type ObjectLocation, type StorageDriver } from '../driver.js';
import { writeChunk } from '../write-chunk.js';

const WRITE_HIGH_WATER_MARK = 1024 * 1024;
const READ_HIGH_WATER_MARK = 512 * 1024;
const COPY_CHUNK = 512 * 1024;
const COPY_RING = 3;
const SYNC_READ_LIMIT = 256 * 1024;
const WRITE_BEHIND = 8 * 1024 * 1024;
/** Directory descriptors kept open for fsync, at most (beyond, a directory is opened per fsync). */
const DIRECTORY_DESCRIPTORS = 1024;
/** errno values with which sendfile(2) refuses a pair of descriptors it cannot send between (not a peer's failure). */
const SENDFILE_REFUSED: ReadonlySet<number> = new Set([constants.errno.EINVAL, constants.errno.ENOSYS, constants.errno.EOPNOTSUPP]);
const fsyncAsync = promisify(fsync);
const openAsync = promisify(open);
const readAsync = promisify(read);
const renameAsync = promisify(rename);
const unlinkAsync = promisify(unlink);
const linkAsync = promisify(link);

export type FdatasyncFunction = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void;

export interface FilesystemDriverOptions {
  readonly sendFile?: SendFile | undefined;
  readonly writeAndRename?: WriteAndRename | undefined;
  readonly fdatasync?: FdatasyncFunction;
}

export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly #root: string;
  /** Directories known to exist: a push then creates none (fan-out directories are never removed). */
  readonly #directories = new Set<string>();
  /** Files whose background fdatasync failed: every commit of them fails rather than trust the bytes. */
  readonly #writeBehindFailures = new Map<string, Error>();
  /** Files made durable by their last append stream, not appended to since: commit need not fsync them. */
  readonly #durable = new Set<string>();
  /** Open descriptors of directories, for fsync after a rename into them. */
  readonly #directoryDescriptors = new Map<string, Promise<number>>();
  /** Zero-copy when the native helper was built (see native-helpers.ts); undefined otherwise. */
  readonly sendFileTo: StorageDriver['sendFileTo'];
  /** The system refused sendfile here once: transfers copy from then on. */
  #sendFileRefused = false;
  /** commitBytes in one thread-pool job when the native helper was built; undefined otherwise. */
  readonly #writeAndRename: WriteAndRename | undefined;
  /** fdatasync(2) of append streams. */
  readonly #fdatasync: FdatasyncFunction;

  /**
   * options.sendFile and options.writeAndRename replace the native helpers (undefined: none), and
   * options.fdatasync node:fs's fdatasync for append streams; tests use them.
   */
  constructor(rootDirectory: string, options: FilesystemDriverOptions = {}) {
    this.#root = rootDirectory;
    const sendFile = 'sendFile' in options ? options.sendFile : nativeSendFile;
    this.sendFileTo = sendFile === undefined ? undefined : this.#sendFileTo.bind(this, sendFile);
    this.#writeAndRename = 'writeAndRename' in options ? options.writeAndRename : nativeWriteAndRename;
    this.#fdatasync = options.fdatasync ?? fdatasync;
  }

  locate(key: string): ObjectLocation {
    return { kind: 'file', path: this.#path(key) };
  }

  #path(key: string): string {
    return join(this.#root, checkKey(key));
  }

  #ensureDirectory(path: string): void {
    if (this.#directories.has(path)) return;
    mkdirSync(path, { recursive: true });
    this.#directories.add(path);
  }

  stat(key: string): Promise<ObjectInfo | undefined> {
    return settle(() => {
      const info = statSync(this.#path(key), { throwIfNoEntry: false });
      return info?.isFile() === true ? { size: info.size, modifiedAt: info.mtime } : undefined;
    });
  }

  /** Opens an object for reading; NotFoundError when it is absent. */
  #openForRead(key: string): number {
    try {
      return openSync(this.#path(key), 'r');
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(key);
      throw error;
    }
  }

  read(key: string, range?: ByteRange): Promise<Readable> {
    return settle(() => {
      const fd = this.#openForRead(key);
      return createReadStream('', { fd, start: range?.start, end: range?.end, highWaterMark: READ_HIGH_WATER_MARK });
    });
  }

  /**
   * Copies through a small ring of reused buffers: the next chunk is read while earlier ones are being
   * written, and no buffer is allocated per chunk. (A read stream allocates one per chunk; measured
   * here, the garbage collection that causes took 29% of the CPU of a 512 MiB pull.)
   */
  async copyTo(key: string, range: ByteRange | undefined, destination: Writable): Promise<void> {
    const fd = this.#openForRead(key);
    try {
      const end = range === undefined ? fstatSync(fd).size : range.end + 1;
      await copyRange(fd, key, range?.start ?? 0, end, destination);
    } finally {
      // Off the event loop: if the collector deleted the blob meanwhile, this close frees its blocks.
      close(fd, () => undefined);
    }
  }

  async #sendFileTo(sendFile: SendFile, key: string, range: ByteRange | undefined, socketFd: number, fallback: Writable): Promise<void> {
    const fd = this.#openForRead(key);
    try {
      const start = range?.start ?? 0;
      const end = range === undefined ? fstatSync(fd).size : range.end + 1;
      let sent = 0;
      if (!this.#sendFileRefused) {
        try {
          await sendFile(socketFd, fd, start, end - start);
          return;
        } catch (error) {
          const { errno, bytesSent } = error as { errno?: number; bytesSent?: number };
          if (errno === undefined || !SENDFILE_REFUSED.has(errno)) throw error;
          this.#sendFileRefused = true;
          sent = bytesSent ?? 0;
        }
      }
      await copyRange(fd, key, start + sent, end, fallback);
    } finally {
      // The helper sends from its own duplicate of the descriptor: this one can go now.
      close(fd, () => undefined);
    }
  }

  async get(key: string): Promise<Buffer> {
    const path = this.#path(key);
    try {
      // A small object in the page cache is read in microseconds: synchronously, like stat.
      const size = statSync(path).size;
      return size <= SYNC_READ_LIMIT ? readFileSync(path) : await readFile(path);
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(key);
      throw error;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.#path(key);
    const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
    this.#ensureDirectory(dirname(path));
    await writeFile(temporary, bytes, { flush: true });
    await renameAsync(temporary, path);
    await this.#syncDirectory(dirname(path));
  }

  async append(key: string, options: AppendOptions = {}): Promise<AppendWriter> {
    const path = this.#path(key);
    this.#ensureDirectory(dirname(path));
    const fd = await openAsync(path, 'a');
    this.#durable.delete(path);
    let size: number;
    try {
      // On the open descriptor: no second path lookup, and the size is where this stream's bytes land.
      size = fstatSync(fd).size;
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
    const stream = new FileAppendStream(fd, {
      fdatasync: this.#fdatasync,
      syncOnFinish: options.last === true,
      onSynced: () => this.#durable.add(path),
      onSyncError: (error) => this.#writeBehindFailures.set(path, error),
    });
    return { stream, size };
  }

  async commit(from: string, to: string): Promise<void> {
    const source = this.#path(from);
    const target = this.#path(to);
    // It stays failed: after a failed fdatasync the kernel may have dropped the dirty pages and a
    // later fsync would succeed without them. Only deleting the object forgets it.
    const failure = this.#writeBehindFailures.get(source);
    if (failure !== undefined) throw failure;
    if (!this.#durable.delete(source)) await syncFile(source);
    this.#ensureDirectory(dirname(target));
    await renameAsync(source, target);
    await this.#syncDirectory(dirname(target));
  }

  async commitBytes(from: string, to: string, bytes: Buffer): Promise<void> {
    const source = this.#path(from);
    const target = this.#path(to);
    // What is known of an append stream at `from` stays: if the file exists (ExistsError below), the
    // caller appends to it and commits, and a failed background fdatasync must still fail that commit.
    this.#ensureDirectory(dirname(source));
    this.#ensureDirectory(dirname(target));
    try {
      if (this.#writeAndRename !== undefined) {
        await this.#writeAndRename(source, bytes, target, dirname(target));
        return;
      }
      await writeFile(source, bytes, { flag: 'wx', flush: true });
      // Flushed by writeFile: commit need not fsync it again.
      this.#durable.add(source);
      await this.commit(from, to);
    } catch (error) {
      // EEXIST: the file is the caller's, left alone. (The helper removes a file it created.)
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ExistsError(from);
      if (this.#writeAndRename === undefined) await unlinkQuietly(source);
      throw error;
    }
  }

  async linkFrom(path: string, key: string): Promise<boolean> {
    const target = this.#path(key);
    this.#ensureDirectory(dirname(target));
    await unlinkQuietly(target);
    try {
      await linkAsync(path, target);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return false;
      throw error;
    }
  }

  async #syncDirectory(path: string): Promise<void> {
    let descriptor = this.#directoryDescriptors.get(path);
    if (descriptor === undefined) {
      if (this.#directoryDescriptors.size >= DIRECTORY_DESCRIPTORS) {
        await syncFile(path);
        return;
      }
      descriptor = openAsync(path, 'r');
      this.#directoryDescriptors.set(path, descriptor);
    }
    try {
      await fsyncAsync(await descriptor);
    } catch (error) {
      this.#forgetDirectory(path);
      throw error;
    }
  }

  /** Drops what is known of a directory (it is being removed): its creation, its open descriptor. */
  #forgetDirectory(path: string): void {
    this.#directories.delete(path);
    const descriptor = this.#directoryDescriptors.get(path);
    if (descriptor === undefined) return;
    this.#directoryDescriptors.delete(path);
    descriptor.then(
      (fd) => closeQuietly(fd),
      () => undefined,
    );
  }

  async delete(keyOrPrefix: string): Promise<void> {
    const path = this.#path(keyOrPrefix);
    if (keyOrPrefix.endsWith('/')) {
      const below = path.endsWith('/') ? path : `${path}/`;
      for (const directory of [...this.#directories, ...this.#directoryDescriptors.keys()]) {
        if (directory === below.slice(0, -1) || directory.startsWith(below)) this.#forgetDirectory(directory);
      }
      for (const file of [...this.#writeBehindFailures.keys(), ...this.#durable]) {
        if (file.startsWith(below)) this.#forgetFile(file);
      }
      await rm(path, { recursive: true, force: true });
      return;
    }
    this.#forgetFile(path);
    try {
      await unlinkAsync(path);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Forgets what append streams left known of a deleted file: a failed fdatasync, or that it is durable. */
  #forgetFile(path: string): void {
    this.#writeBehindFailures.delete(path);
    this.#durable.delete(path);
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

interface SyncHooks {
  readonly fdatasync: FdatasyncFunction;
  /** fdatasync before the stream finishes (it is the last before a commit). */
  readonly syncOnFinish: boolean;
  readonly onSynced: () => void;
  /** A background (write-behind) fdatasync failed. */
  readonly onSyncError: (error: Error) => void;
}

/**
 * A Writable over an open file descriptor: batches of chunks go out with one writev call. It writes
 * behind (see the top of this file): the descriptor is closed once its background fdatasync is done.
 */
class FileAppendStream extends Writable {
  #fd: number | undefined;
  readonly #hooks: SyncHooks;
  /** Bytes written since the last background fdatasync started. */
  #unsynced = 0;
  #syncing = false;
  #closeWhenSynced: (() => void) | undefined;

  constructor(fd: number, hooks: SyncHooks) {
    super({ highWaterMark: WRITE_HIGH_WATER_MARK });
    this.#fd = fd;
    this.#hooks = hooks;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    writeAll(this.#fd as number, chunk, this.#written(chunk.length, callback));
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((entry) => entry.chunk);
    const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    const done = this.#written(total, callback);
    writev(this.#fd as number, buffers, (error, written) => {
      if (error !== null) done(error);
      else if (written === total) done();
      else writeAll(this.#fd as number, Buffer.concat(buffers).subarray(written), done);
    });
  }

  /** Counts bytes once written, and starts a background fdatasync every WRITE_BEHIND of them. */
  #written(bytes: number, callback: (error?: Error | null) => void): (error?: Error | null) => void {
    return (error) => {
      if (error === undefined || error === null) {
        this.#unsynced += bytes;
        if (this.#unsynced >= WRITE_BEHIND) this.#syncBehind();
      }
      callback(error);
    };
  }

  #syncBehind(): void {
    if (this.#syncing || this.#fd === undefined) return;
    this.#syncing = true;
    this.#unsynced = 0;
    this.#hooks.fdatasync(this.#fd, (error) => {
      this.#syncing = false;
      if (error !== null) this.#hooks.onSyncError(error);
      const close = this.#closeWhenSynced;
      this.#closeWhenSynced = undefined;
      close?.();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#hooks.syncOnFinish && this.#fd !== undefined) {
      this.#hooks.fdatasync(this.#fd, (error) => {
        if (error !== null) {
          callback(error);
          return;
        }
        this.#hooks.onSynced();
        this.#close();
        callback();
      });
      return;
    }
    // The tail of a large stream starts writing out too; the caller does not wait for it.
    if (this.#unsynced >= WRITE_BEHIND / 2) this.#syncBehind();
    this.#close();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#close();
    callback(error);
  }

  /** Closes the descriptor now, or (in use by a running fdatasync) right after it: its number must not be reused meanwhile. */
  #close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    if (this.#syncing) this.#closeWhenSynced = () => closeQuietly(fd);
    else closeQuietly(fd);
  }
}

/**
 * Copies bytes [position, end) of an open file into `destination` through a ring of buffers: up to
 * COPY_RING - 1 writes stay queued at the socket while the next chunk is read, so the socket never
 * drains between chunks. A buffer is read into only after its previous write was taken.
 */
async function copyRange(fd: number, key: string, position: number, end: number, destination: Writable): Promise<void> {
  const ring = Array.from({ length: COPY_RING }, () => ({ buffer: Buffer.allocUnsafe(COPY_CHUNK), written: Promise.resolve() }));
  for (let turn = 0; position < end; turn = (turn + 1) % COPY_RING) {
    const slot = ring[turn] as (typeof ring)[number];
    await slot.written;
    const { bytesRead } = await readAsync(fd, slot.buffer, 0, Math.min(COPY_CHUNK, end - position), position);
    if (bytesRead === 0) throw new Error(`storage: ${key} ended at ${position} of ${end} bytes`);
    position += bytesRead;
    slot.written = writeChunk(destination, slot.buffer.subarray(0, bytesRead));
    // It may fail while later chunks are read: it is awaited later, so mark it handled now.
    slot.written.catch(() => undefined);
  }
  await Promise.all(ring.map((slot) => slot.written));
}

function writeAll(fd: number, buffer: Buffer, callback: (error?: Error | null) => void): void {
  write(fd, buffer, 0, buffer.length, null, (error, written) => {
    if (error !== null) callback(error);
    else if (written === buffer.length) callback();
    else writeAll(fd, buffer.subarray(written), callback);
  });
}

async function unlinkQuietly(path: string): Promise<void> {
  await unlinkAsync(path).catch(() => undefined);
}

/** Opens, fsyncs and closes a file or directory (read-only: fsync needs no write access). */
async function syncFile(path: string): Promise<void> {
  const fd = await openAsync(path, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeQuietly(fd);
  }
}

/**
 * Closes a descriptor synchronously: closing a file costs a few microseconds, less than a thread-pool
 * round trip (and the wake-up of a pool thread, which on two cores preempts the event loop). A
 * failing close loses nothing here: writes are checked as they happen, durability by fsync.
 */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing to do: see above.
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
