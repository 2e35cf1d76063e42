// The native helpers (native/*.c, built by scripts/build-native.mjs into dist/native/). Each is
// undefined when it could not be built: the driver then does the same work through node:fs.
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';

/** sendfile(2) from a file to a socket on a thread of its own; resolves with the bytes sent. */
export type SendFile = (socketFd: number, fileFd: number, offset: number, count: number) => Promise<number>;

/**
 * Creates `path` (EEXIST if it exists) with `bytes`, fdatasyncs it, renames it to `target` and
 * fsyncs `directory`, as one thread-pool job. Rejects with a system error (code, errno, syscall) as
 * node:fs does.
 */
export type WriteAndRename = (path: string, bytes: Buffer, target: string, directory: string) => Promise<void>;

function load<T>(helper: string, name: string): T | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // dist/src/storage/filesystem/ → dist/native/
    const exports = createRequire(import.meta.url)(`../../../native/${helper}.node`) as Record<string, unknown>;
    return exports[name] as T | undefined;
  } catch {
    return undefined;
  }
}

export const nativeSendFile = load<SendFile>('sendfile', 'sendFile');

const writeAndRename = load<WriteAndRename>('write-and-rename', 'writeAndRename');

/** The helper's errors carry errno and syscall; made into node:fs's shape (code ENOSPC, errno -28, path). */
export const nativeWriteAndRename: WriteAndRename | undefined =
  writeAndRename === undefined
    ? undefined
    : (path, bytes, target, directory) =>
        writeAndRename(path, bytes, target, directory).catch((error: unknown) => {
          throw systemError(error, path);
        });

function systemError(error: unknown, path: string): unknown {
  if (!(error instanceof Error)) return error;
  const { errno, syscall } = error as Error & { errno?: unknown; syscall?: unknown };
  if (typeof errno !== 'number') return error;
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`${code}: ${error.message}, ${String(syscall)} '${path}'`), { code, errno: -errno, syscall, path });
}
