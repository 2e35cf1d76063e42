// The online garbage collector (docs/gc.md). One run:
//   1. finishes byte deletions a previous run started and never finished (a crash, kill -9),
//   2. collects due manifest rows (in no repository, no index's child) in batches,
//   3. collects due blob rows (no manifest references them) in batches: one write transaction
//      re-checks every reference, deletes the rows and records a byte deletion for each; the bytes
//      of exactly those rows are deleted after it commits; then the deletions are marked finished,
//   4. sweeps orphaned bytes (a blob key with no row, older than the review delay).
// Safe while the registry serves pushes and pulls, in the server or in another process (`berth gc`).
import type { Logger } from 'pino';
import { BLOB_DELETION_LEASE_MS, type GcCandidate, type LifecycleStore, type PolicyStore } from '../metadata/lifecycle.js';
import type { RemovalEvents } from '../metadata/event-store.js';
import type { GcRunRow } from '../metadata/gc-runs.js';
import type { MetadataStore } from '../metadata/store.js';
import type { SystemActor } from '../registry/changes.js';
import { blobKey } from '../registry/blob-keys.js';
import type { Digest } from '../registry/digest.js';
import type { LifecyclePolicy } from '../registry/lifecycle-policy.js';
import type { StorageDriver } from '../storage/driver.js';
import { evictCache, type EvictionReport, type EvictionRule, type EvictionStore } from './cache-eviction.js';
import { applyPolicies, type PolicyReport, type PolicyRules } from './policies.js';

export interface CollectOptions {
  /** A candidate is collected only once this long has passed since it last gained or lost a reference. */
  readonly reviewDelayMs: number;
  readonly dryRun: boolean;
  /** Also sweep bytes that have no metadata row (default true). */
  readonly sweepOrphans?: boolean;
  /** Candidates per transaction (default 500). */
  readonly batchSize?: number;
  /** Retention and untagged-manifest policies, applied first (docs/lifecycle.md). */
  readonly policies?: { readonly rules: PolicyRules; readonly immutability: LifecyclePolicy };
  /** The pull-through cache's eviction rules (one per upstream that has any), applied after the policies. */
  readonly eviction?: { readonly rules: readonly EvictionRule[]; readonly store: EvictionStore };
  /** Notification events of what the collector and the policies remove (when endpoints are configured). */
  readonly removalEvents?: (actor: SystemActor) => RemovalEvents;
  /** Called between phases and batches; tests use it to interleave work. */
  readonly onProgress?: (phase: 'manifests' | 'blobs' | 'bytes' | 'orphans') => void | Promise<void>;
}

export interface CollectReport {
  readonly dryRun: boolean;
  readonly manifests: number;
  readonly blobs: number;
  /** Bytes of collected blobs whose bytes were deleted (or would be). */
  readonly bytesReclaimed: number;
  readonly orphans: number;
  readonly orphanBytes: number;
  /** Byte deletions of an interrupted run that this run finished. */
  readonly resumed: number;
  readonly durationMs: number;
  /** What went (or would go): at most the first 1000 of each. */
  readonly collectedManifests: readonly string[];
  readonly collectedBlobs: readonly string[];
  /** What the retention and untagged policies removed from repositories (or would). */
  readonly policy: PolicyReport;
  /** What the pull-through cache's eviction removed from repositories (or would). */
  readonly evicted: EvictionReport;
}

const LIST_LIMIT = 1000;
const DELETE_CONCURRENCY = 16;
/** Never start deleting bytes this close to the end of a deletion's lease. */
const LEASE_MARGIN_MS = 60_000;

export async function collectGarbage(
  store: MetadataStore & LifecycleStore & PolicyStore,
  storage: StorageDriver,
  options: CollectOptions,
  log: Logger,
): Promise<CollectReport> {
  const started = Date.now();
  const batchSize = options.batchSize ?? 500;
  const progress = async (phase: 'manifests' | 'blobs' | 'bytes' | 'orphans'): Promise<void> => {
    await options.onProgress?.(phase);
  };
  const collectedManifests: string[] = [];
  const collectedBlobs: string[] = [];
  let manifests = 0;
  let blobs = 0;
  let bytesReclaimed = 0;
  let resumed = 0;

  // 1. Deletions an interrupted run left: re-armed in a transaction that proves no row came back.
  if (!options.dryRun) {
    for (;;) {
      const unfinished = await store.unfinishedBlobDeletions(batchSize);
      const renewed: GcCandidate[] = [];
      for (const deletion of unfinished) {
        if (await store.renewBlobDeletion(deletion.digest)) renewed.push(deletion);
      }
      await deleteBytes(storage, renewed, store);
      resumed += renewed.length;
      if (unfinished.length < batchSize) break;
    }
  }

  const cutoff = (): number => Date.now() - options.reviewDelayMs;

  const policy = options.policies === undefined ? { tags: [], manifests: [] } : await applyPolicies(store, options.policies.rules, options.policies.immutability, options.dryRun, options.removalEvents);
  const evicted = options.eviction === undefined || options.eviction.rules.length === 0 ? { manifests: [], count: 0 } : await evictCache(options.eviction.store, options.eviction.rules, options.dryRun, options.removalEvents?.('proxy'));

  // 2. Manifest rows. A dry run sees one batch at a time without removing, so it reads one window.
  for (;;) {
    await progress('manifests');
    const batch = await store.collectManifests(cutoff(), options.dryRun ? 100_000 : batchSize, options.dryRun);
    manifests += batch.collected.length;
    for (const manifest of batch.collected) if (collectedManifests.length < LIST_LIMIT) collectedManifests.push(manifest.digest);
    if (options.dryRun || batch.examined < batchSize) break;
  }

  // 3. Blob rows, then their bytes. Each repository link removed is reported as a blob delete.
  const gcEvents = options.removalEvents?.('gc');
  for (;;) {
    await progress('blobs');
    const batch = await store.beginBlobDeletions(cutoff(), options.dryRun ? 100_000 : batchSize, options.dryRun, gcEvents);
    blobs += batch.deleting.length;
    for (const blob of batch.deleting) {
      bytesReclaimed += blob.size;
      if (collectedBlobs.length < LIST_LIMIT) collectedBlobs.push(blob.digest);
    }
    if (!options.dryRun && batch.deleting.length > 0) {
      await progress('bytes');
      await deleteBytes(storage, batch.deleting, store, Date.now());
    }
    if (options.dryRun || batch.examined < batchSize) break;
  }

  // 4. Orphaned bytes.
  let orphans = 0;
  let orphanBytes = 0;
  if (options.sweepOrphans ?? true) {
    await progress('orphans');
    const oldEnough = cutoff();
    for await (const object of storage.list('blobs/')) {
      if (object.modifiedAt.getTime() > oldEnough) continue;
      const digest = digestOfKey(object.key);
      if (digest === undefined) continue;
      if ((await store.getBlob(digest)) !== undefined) continue;
      if (options.dryRun) {
        orphans++;
        orphanBytes += object.size;
        continue;
      }
      if (!(await store.beginOrphanDeletion(digest, object.size))) continue;
      await deleteBytes(storage, [{ digest, size: object.size }], store, Date.now());
      orphans++;
      orphanBytes += object.size;
    }
  }

  if (!options.dryRun) await store.pruneBlobDeletions(Date.now() - 2 * BLOB_DELETION_LEASE_MS);
  const report: CollectReport = {
    dryRun: options.dryRun,
    manifests,
    blobs,
    bytesReclaimed,
    orphans,
    orphanBytes,
    resumed,
    durationMs: Date.now() - started,
    collectedManifests,
    collectedBlobs,
    policy,
    evicted,
  };
  if (manifests + blobs + orphans + resumed + policy.tags.length + policy.manifests.length + evicted.count > 0 || options.dryRun) {
    const summary = { dryRun: report.dryRun, policyTags: policy.tags.length, policyManifests: policy.manifests.length, evicted: evicted.count, manifests, blobs, bytesReclaimed, orphans, orphanBytes, resumed, durationMs: report.durationMs };
    log.info(summary, options.dryRun ? 'garbage collection (dry run)' : 'garbage collected');
  }
  return report;
}

/**
 * Deletes the bytes of deletions this process started (at `startedAt`, or just renewed), then
 * marks them finished. A deletion whose lease is nearly over is renewed first (and skipped when a
 * row came back).
 */
async function deleteBytes(storage: StorageDriver, deletions: readonly GcCandidate[], store: LifecycleStore, startedAt = Date.now()): Promise<void> {
  const queue = [...deletions];
  const done: string[] = [];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (Date.now() > startedAt + BLOB_DELETION_LEASE_MS - LEASE_MARGIN_MS && !(await store.renewBlobDeletion(next.digest))) continue;
      await storage.delete(blobKey(next.digest as Digest));
      done.push(next.digest);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, deletions.length) }, worker));
  if (done.length > 0) await store.finishBlobDeletions(done);
}

const BLOB_KEY = /^blobs\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)$/;

/** The digest whose bytes a storage key holds, or undefined for anything else (temporary files). */
export function digestOfKey(key: string): string | undefined {
  const match = BLOB_KEY.exec(key);
  if (match === null) return undefined;
  const [, algorithm, hex] = match;
  if (hex === undefined || hex.length !== (algorithm === 'sha256' ? 64 : 128)) return undefined;
  return `${algorithm}:${hex}`;
}

/**
 * Runs the collector every interval (first after a short pause) until the returned function is
 * called; that function resolves once a run in progress has ended.
 */
export function scheduleCollection(run: () => Promise<unknown>, intervalMs: number, log: Logger): () => Promise<void> {
  let current: Promise<void> | undefined;
  const tick = (): void => {
    if (current !== undefined) return;
    current = run()
      .then(
        () => undefined,
        (error: unknown) => log.error({ err: error }, 'garbage collection failed'),
      )
      .finally(() => {
        current = undefined;
      });
  };
  const first = setTimeout(tick, Math.min(intervalMs, 30_000));
  const timer = setInterval(tick, intervalMs);
  first.unref();
  timer.unref();
  return async () => {
    clearTimeout(first);
    clearInterval(timer);
    await current;
  };
}

/** A finished run as the run history records it (src/metadata/gc-runs.ts). */
export function gcRunOf(report: CollectReport, trigger: GcRunRow['trigger'], finishedAt: number = Date.now()): GcRunRow {
  return {
    startedAt: finishedAt - report.durationMs,
    finishedAt,
    trigger,
    manifests: report.manifests,
    blobs: report.blobs,
    bytesReclaimed: report.bytesReclaimed,
    orphans: report.orphans,
    orphanBytes: report.orphanBytes,
    policyTags: report.policy.tags.length,
    policyManifests: report.policy.manifests.length,
  };
}
