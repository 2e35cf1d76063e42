// Failed logins per client address: each failure is answered late (more so the more failures the
// client had in the window), and past `attempts` failures the client gets 429 until the window ends.
// A success does not reset the count, so one valid account cannot be used to keep guessing another.

export interface FailureLimits {
  readonly attempts: number;
  readonly windowMs: number;
  readonly delayMs: number;
}

/** What access control asks of a failed-login limiter (this one in memory, or shared-failure-limiter.ts). */
export interface LoginLimiter {
  /** Seconds to wait when the client is over the limit, else undefined. */
  blocked(client: string | undefined): Promise<number | undefined>;
  /** Counts a failure; resolves after the delay the failure is answered with. */
  fail(client: string | undefined): Promise<void>;
}

export const MAX_DELAY_MS = 2000;
const MAX_CLIENTS = 100_000;

interface Window {
  start: number;
  failures: number;
}

/** One process's limiter: counts in memory. */
export class FailureLimiter implements LoginLimiter {
  readonly #limits: FailureLimits;
  readonly #clients = new Map<string, Window>();

  constructor(limits: FailureLimits) {
    this.#limits = limits;
  }

  /** Seconds to wait when the client is over the limit, else undefined. */
  blocked(client: string | undefined): Promise<number | undefined> {
    const window = this.#current(client ?? '', Date.now());
    if (window === undefined || window.failures < this.#limits.attempts) return Promise.resolve(undefined);
    return Promise.resolve(Math.max(1, Math.ceil((window.start + this.#limits.windowMs - Date.now()) / 1000)));
  }

  /** Counts a failure; resolves after the delay the failure is answered with. */
  async fail(client: string | undefined): Promise<void> {
    const now = Date.now();
    const key = client ?? '';
    let window = this.#current(key, now);
    if (window === undefined) {
      if (this.#clients.size >= MAX_CLIENTS) this.#sweep(now);
      window = { start: now, failures: 0 };
      this.#clients.set(key, window);
    }
    window.failures++;
    const delay = Math.min(this.#limits.delayMs * window.failures, MAX_DELAY_MS);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  }

  #current(key: string, now: number): Window | undefined {
    const window = this.#clients.get(key);
    if (window === undefined) return undefined;
    if (now - window.start >= this.#limits.windowMs) {
      this.#clients.delete(key);
      return undefined;
    }
    return window;
  }

  #sweep(now: number): void {
    for (const [key, window] of this.#clients) if (now - window.start >= this.#limits.windowMs) this.#clients.delete(key);
    if (this.#clients.size >= MAX_CLIENTS) this.#clients.clear();
  }
}
