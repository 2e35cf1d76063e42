// The native sendfile(2) helper (native/sendfile.c, built by scripts/build-native.mjs into
// dist/native/). Absent when it could not be built: callers then copy through user space.
import { createRequire } from 'node:module';

export type SendFile = (socketFd: number, fileFd: number, offset: number, count: number) => Promise<number>;

function load(): SendFile | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // dist/src/storage/filesystem/ → dist/native/
    const helper = createRequire(import.meta.url)('../../../native/sendfile.node') as { sendFile?: SendFile };
    return helper.sendFile;
  } catch {
    return undefined;
  }
}

export const nativeSendFile: SendFile | undefined = load();
