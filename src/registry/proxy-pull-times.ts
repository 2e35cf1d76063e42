// When the cache's manifests are pulled, gathered in memory and written in batches (one store call
// every few seconds, whatever the pull rate), for the collector's least-recently-pulled eviction.
// A crash loses at most the last interval's times, which only makes an entry look older by that
// interval than it is: never evicts what was pulled within `unusedfor` minus the interval.
import type { ProxyCacheStore } from '../metadata/proxy-cache.js';

/** How often the gathered pull times are written. */
export const PULL_TIMES_FLUSH_MS = 5_000;
/** Distinct (repository, manifest) pairs gathered at most before an early write. */
const MAX_PENDING = 10_000;

export class PullTimes {
  readonly #store: ProxyCacheStore;
  readonly #pending = new Map<string, { repository: string; digest: string; at: number }>();
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(store: ProxyCacheStore, onError: (error: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  /** A pull of the manifest now. */
  pulled(repository: string, digest: string, at: number): void {
    const key = `${repository}@${digest}`;
    const entry = this.#pending.get(key);
    if (entry !== undefined) {
      if (entry.at < at) entry.at = at;
      return;
    }
    this.#pending.set(key, { repository, digest, at });
    if (this.#pending.size >= MAX_PENDING) void this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), PULL_TIMES_FLUSH_MS);
      this.#timer.unref();
    }
  }

  /** Writes what is gathered (after any write in progress); never rejects. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return this.#writing;
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    this.#writing = this.#writing.then(() => this.#store.recordManifestPulls(batch)).catch(this.#onError);
    return this.#writing;
  }
}
