// What the pull-through cache keeps about its own use (docs/proxy.md, "Eviction"): when each cached
// manifest was last pulled, so that the collector can evict what nobody pulls, least recently
// pulled first. Pulls are written in batches (src/registry/proxy-pull-times.ts); a manifest never
// pulled since it was cached counts from when it was cached.

/** One manifest of a repository pulled (GET or HEAD) at `at` (ms since the epoch). */
export interface ManifestPull {
  readonly repository: string;
  readonly digest: string;
  readonly at: number;
}

/** A cached manifest and when it was last used (pulled, or else cached). */
export interface CachedManifestUse {
  readonly repository: string;
  readonly digest: string;
  readonly usedAt: number;
  /** Its payload and the blobs it references: the most that evicting it can free. */
  readonly bytes: number;
}

export interface ProxyCacheStore {
  /** Moves each manifest's last-pulled time forward to `at` (never back); unknown ones are skipped. */
  recordManifestPulls(pulls: readonly ManifestPull[]): Promise<void>;
  /**
   * The manifests of repositories whose names start with `prefix` ('' is every repository), least
   * recently used first, used before `usedBefore` when given; at most `limit`.
   */
  leastRecentlyUsed(prefix: string, usedBefore: number | undefined, limit: number): Promise<CachedManifestUse[]>;
}
