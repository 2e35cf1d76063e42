// Eviction of the pull-through cache (docs/proxy.md, "Eviction"), at the start of each collector
// run beside the retention policies: per upstream, the cached manifests no client pulled within
// `unusedfor`, then, while the upstream's repositories hold more than `maxsize`, the least recently
// pulled ones. An evicted manifest is removed from its repository with its tags, as a DELETE by
// digest would; what that leaves unreferenced (the manifest row, its blobs) is collected like
// anything else, after the review delay. A pull after that fetches it from the upstream again.
import type { UpstreamConfig } from '../config/config.js';
import type { RemovalEvents } from '../metadata/event-store.js';
import type { UsageScope, UsageStore } from '../metadata/lifecycle.js';
import type { CachedManifestUse, ProxyCacheStore } from '../metadata/proxy-cache.js';
import type { MetadataStore } from '../metadata/store.js';

export interface EvictionRule {
  /** The upstream's repositories: names starting with this ('' is every repository). */
  readonly prefix: string;
  /** Evict what was not pulled for this long (0: never by age). */
  readonly unusedForMs: number;
  /** Evict least recently pulled first while the prefix holds more bytes than this (undefined: no limit). */
  readonly maxBytes: number | undefined;
}

export type EvictionStore = ProxyCacheStore & Pick<UsageStore, 'usage'> & Pick<MetadataStore, 'deleteManifest'>;

export interface EvictionReport {
  /** `repository@digest` evicted (or that would be): at most the first 1000. */
  readonly manifests: string[];
  /** How many were evicted (or would be). */
  readonly count: number;
}

const BATCH = 100;
const LIST_LIMIT = 1000;

/** Applies every rule. A dry run reports what `unusedfor` would evict; `maxsize` is only applied for real (it depends on what goes first). */
export async function evictCache(store: EvictionStore, rules: readonly EvictionRule[], dryRun: boolean, events?: RemovalEvents, now: number = Date.now()): Promise<EvictionReport> {
  const manifests: string[] = [];
  let count = 0;
  const note = (entry: CachedManifestUse): void => {
    count++;
    if (manifests.length < LIST_LIMIT) manifests.push(`${entry.repository}@${entry.digest}`);
  };
  const evict = async (entry: CachedManifestUse): Promise<boolean> => {
    const event = events?.({ kind: 'manifest', repository: entry.repository, digest: entry.digest });
    const removed = await store.deleteManifest(entry.repository, entry.digest, event === undefined ? undefined : [event]);
    if (removed) note(entry);
    return removed;
  };
  for (const rule of rules) {
    if (rule.unusedForMs > 0) {
      const before = now - rule.unusedForMs;
      if (dryRun) {
        for (const entry of await store.leastRecentlyUsed(rule.prefix, before, 100_000)) note(entry);
      } else {
        for (;;) {
          const batch = await store.leastRecentlyUsed(rule.prefix, before, BATCH);
          let removed = 0;
          for (const entry of batch) if (await evict(entry)) removed++;
          if (batch.length < BATCH || removed === 0) break;
        }
      }
    }
    if (rule.maxBytes !== undefined && !dryRun) {
      const scope = cacheScope(rule.prefix);
      // What a manifest frees depends on what else holds its blobs; its own bytes are the most it can
      // free. So each round evicts the least recently used until those bounds add up to the excess,
      // then measures again: never more than evicting one at a time and measuring after each would,
      // with a usage query per round instead of per manifest.
      for (;;) {
        const usage = await store.usage(scope);
        const excess = usage.blobBytes + usage.manifestBytes - rule.maxBytes;
        if (excess <= 0) break;
        let bound = 0;
        let evicted = 0;
        for (const entry of await store.leastRecentlyUsed(rule.prefix, undefined, BATCH)) {
          if (bound >= excess) break;
          if (await evict(entry)) {
            bound += entry.bytes;
            evicted++;
          }
        }
        if (evicted === 0) break;
      }
    }
  }
  return { manifests, count };
}

/** The usage scope of an upstream's cache: its prefix as a namespace, or the registry for '' (proxy.remoteurl). */
export function cacheScope(prefix: string): UsageScope {
  return prefix === '' ? { registry: true } : { namespace: prefix.slice(0, -1) };
}

/** The rules of the upstreams that evict (by age or size). */
export function evictionRules(upstreams: readonly UpstreamConfig[]): EvictionRule[] {
  return upstreams.filter((upstream) => upstream.unusedForMs > 0 || upstream.maxBytes !== undefined).map((upstream) => ({ prefix: upstream.prefix, unusedForMs: upstream.unusedForMs, maxBytes: upstream.maxBytes }));
}
