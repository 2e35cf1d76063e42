// State that every instance of one deployment must share, beyond the registry's own metadata: the
// built-in token service's signing key (a token issued by one instance is accepted by any other) and
// the failed-login counts of the limiter (a client cannot spread its guesses over the instances),
// leases (one process at a time does a named piece of work, e.g. fetching one cold blob from an upstream),
// and when an upstream last confirmed a proxied tag (one revalidation per TTL for every instance, and
// none again after a restart).
// Implemented by the SQLite store (cluster workers on one file) and the PostgreSQL store.

/** Failed logins of one client within the current window. */
export interface LoginWindow {
  /** When the window started (ms since the epoch). */
  readonly start: number;
  readonly failures: number;
}

export interface SharedStateStore {
  /**
   * The value stored under `name`; when there is none, stores `candidate` and returns it. Of several
   * instances calling at once, all get the value of the one that stored first.
   */
  sharedValue(name: string, candidate: string): Promise<string>;
  /**
   * Counts a failed login of `client` at `now`, in a window of `windowMs` that starts with the first
   * failure after the last window ended; returns the window after counting.
   */
  countLoginFailure(client: string, now: number, windowMs: number): Promise<LoginWindow>;
  /** The client's window at `now`, when one is open. */
  loginWindow(client: string, now: number, windowMs: number): Promise<LoginWindow | undefined>;
  /** Forgets windows that ended before `now - windowMs` (at most `limit`); returns how many. */
  pruneLoginWindows(now: number, windowMs: number, limit: number): Promise<number>;
  /**
   * Takes the lease `name` for `holder` until `now + ttlMs` when nobody holds it, its holder let it
   * expire, or `holder` holds it already (then it is renewed); whether `holder` holds it now. Of
   * several processes claiming at once, exactly one succeeds.
   */
  claimWorkLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, when `holder` holds it. */
  releaseWorkLease(name: string, holder: string): Promise<void>;
  /** Records that the upstream named `digest` for the proxied `repository:tag` at `at` (ms). */
  confirmUpstreamTag(repository: string, tag: string, digest: string, at: number): Promise<void>;
  /** The last confirmation recorded for `repository:tag`, if any. */
  upstreamTagConfirmation(repository: string, tag: string): Promise<UpstreamTagConfirmation | undefined>;
}

export interface UpstreamTagConfirmation {
  readonly digest: string;
  /** When (ms since the epoch). */
  readonly at: number;
}
