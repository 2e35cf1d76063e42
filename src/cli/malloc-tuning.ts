// glibc malloc, tuned for a process that streams blobs. Node reads sockets and request bodies into
// 64 KiB buffers allocated with malloc; V8 frees them in bulk when it collects. With glibc's default
// trim threshold (128 KiB, raised only after a buffer of 128 KiB or more was mmapped and freed),
// each bulk free gives the top of the heap back with brk and the next reads take the same pages
// again, one page fault each. Measured on a pull of 6 × 64 MiB from S3 (radosgw) with a hashing
// client: 116,000–153,000 page faults and 4.0–5.2 server CPU-s per GiB in most runs of the default,
// about 100 faults after the first pull and 1.2–1.9 CPU-s/GiB in most runs with the values below; a
// monolithic push of 64 MiB to the filesystem, 280 → 420 MiB/s (bench/README.md, 2026-12-03).
//
// The values: blocks under 16 MiB (an S3 part of storage.s3.chunksize, 10 MiB by default) come from
// the heap, and up to 128 MiB of free heap top is kept for the next allocations instead of being given
// back. 128 MiB because V8 frees the body buffers in batches (it collects when about 64 MiB of them
// have piled up outside its heap): with 32 MiB the faults came back in some runs. The peak RSS does
// not grow (those pages were in use at the peak); a process keeps them after the load instead.
// An operator who tunes malloc through the environment (MALLOC_*_ variables, GLIBC_TUNABLES) is left
// alone. Elsewhere than on glibc, or without the native helper (native/malloc-tuning.c), nothing changes.
import { createRequire } from 'node:module';

const MMAP_THRESHOLD = 16 * 1024 * 1024;
const TRIM_THRESHOLD = 128 * 1024 * 1024;

type TuneMalloc = (mmapThreshold: number, trimThreshold: number) => boolean;

/** What was done: 'tuned', or why not. */
export type MallocTuning = 'tuned' | 'set in the environment' | 'not glibc' | 'no native helper';

export function tuneMalloc(env: NodeJS.ProcessEnv = process.env): MallocTuning {
  if (Object.keys(env).some((name) => name.startsWith('MALLOC_')) || /glibc\.malloc\./.test(env.GLIBC_TUNABLES ?? '')) return 'set in the environment';
  if (process.platform !== 'linux') return 'not glibc';
  let tune: TuneMalloc | undefined;
  try {
    // dist/src/cli/ → dist/native/
    tune = (createRequire(import.meta.url)('../../native/malloc-tuning.node') as { tuneMalloc?: TuneMalloc }).tuneMalloc;
  } catch {
    tune = undefined;
  }
  if (tune === undefined) return 'no native helper';
  return tune(MMAP_THRESHOLD, TRIM_THRESHOLD) ? 'tuned' : 'not glibc';
}
