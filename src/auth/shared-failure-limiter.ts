// The failed-login limiter of a deployment of several instances: the failures of each client address
// are counted in the metadata store (SharedStateStore), so that a client cannot spread its guesses
// over the instances behind a load balancer. Same rules as FailureLimiter (failure-limiter.ts): each
// failure answered later the more failures the window holds, 429 past `attempts` until it ends.
// Costs one primary-key read per authenticated request (blocked) and one upsert per failure.
import type { SharedStateStore } from '../metadata/shared-state.js';
import { MAX_DELAY_MS, type FailureLimits, type LoginLimiter } from './failure-limiter.js';

/** Ended windows are pruned at most once per window by each instance, this many at a time. */
const PRUNE_BATCH = 1000;

export class SharedFailureLimiter implements LoginLimiter {
  readonly #limits: FailureLimits;
  readonly #store: () => SharedStateStore;
  #prunedAt = 0;

  /** `store` is called when first needed (the store is opened after access control is built). */
  constructor(limits: FailureLimits, store: () => SharedStateStore) {
    this.#limits = limits;
    this.#store = store;
  }

  async blocked(client: string | undefined): Promise<number | undefined> {
    const now = Date.now();
    const window = await this.#store().loginWindow(client ?? '', now, this.#limits.windowMs);
    if (window === undefined || window.failures < this.#limits.attempts) return undefined;
    return Math.max(1, Math.ceil((window.start + this.#limits.windowMs - now) / 1000));
  }

  async fail(client: string | undefined): Promise<void> {
    const now = Date.now();
    const store = this.#store();
    const window = await store.countLoginFailure(client ?? '', now, this.#limits.windowMs);
    if (now - this.#prunedAt >= this.#limits.windowMs) {
      this.#prunedAt = now;
      await store.pruneLoginWindows(now, this.#limits.windowMs, PRUNE_BATCH);
    }
    const delay = Math.min(this.#limits.delayMs * window.failures, MAX_DELAY_MS);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
