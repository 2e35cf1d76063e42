// What the online garbage collector asks of the metadata store (docs/gc.md). Every method that
// decides re-checks every reference in one write transaction, so that it is right whatever pushes,
// retags and deletes run at the same time, in this process or another one sharing the store.
import type { RemovalEvents } from './event-store.js';

export interface GcCandidate {
  readonly digest: string;
  readonly size: number;
}

export interface CollectedManifests {
  /** Manifest rows removed (or, in a dry run, that would be). */
  readonly collected: readonly GcCandidate[];
  /** Due candidates looked at. */
  readonly examined: number;
}

export interface BlobDeletions {
  /** Blob rows removed in the transaction; their bytes may now be deleted, and only theirs. */
  readonly deleting: readonly GcCandidate[];
  readonly examined: number;
}

export interface GcQueueStats {
  readonly blobs: number;
  readonly manifests: number;
  readonly blobDeletionsInProgress: number;
}

export interface LifecycleStore {
  /**
   * Removes manifest rows that are due (their last reference event is at or before `cutoff`), in no
   * repository and no index's child; their references go with them, which enqueues the children.
   * With dryRun, only reports.
   */
  collectManifests(cutoff: number, limit: number, dryRun: boolean): Promise<CollectedManifests>;
  /**
   * Removes blob rows that are due and that no manifest references, with their repository links,
   * and records a byte deletion for each (started now). With dryRun, only reports. `events` makes
   * the event of each repository link removed (appended in the same transaction).
   */
  beginBlobDeletions(cutoff: number, limit: number, dryRun: boolean, events?: RemovalEvents): Promise<BlobDeletions>;
  /**
   * Starts a byte deletion of bytes with no blob row (an orphan); false when a row or a deletion
   * in progress exists.
   */
  beginOrphanDeletion(digest: string, size: number): Promise<boolean>;
  /** Records that the bytes of these deletions are gone. */
  finishBlobDeletions(digests: readonly string[]): Promise<void>;
  /** Byte deletions started and never finished (a crash): digest and start time. */
  unfinishedBlobDeletions(limit: number): Promise<{ digest: string; size: number; startedAt: number }[]>;
  /**
   * Re-arms an unfinished deletion before its bytes are deleted (again): false, and the record
   * dropped, when a blob row exists again (the bytes were re-pushed and must stay).
   */
  renewBlobDeletion(digest: string): Promise<boolean>;
  /** Forgets finished deletions older than the time. */
  pruneBlobDeletions(finishedBefore: number): Promise<void>;
  gcQueueStats(): Promise<GcQueueStats>;
}

/**
 * How long a started byte deletion may take. A collector never deletes bytes of a deletion older
 * than this without renewing it first, so linkBlob can tell whether bytes it saw may since have
 * been deleted.
 */
export const BLOB_DELETION_LEASE_MS = 10 * 60_000;

/** Storage used by a repository, a namespace or the registry (docs/lifecycle.md, "Usage"). */
export interface Usage {
  /** The repository or namespace name; `*` for the whole registry. */
  readonly scope: string;
  /** Distinct blobs referenced by the manifests in scope, each counted once in the scope. */
  readonly blobs: number;
  readonly blobBytes: number;
  /** Distinct manifests in scope (their payload bytes). */
  readonly manifests: number;
  readonly manifestBytes: number;
  readonly tags: number;
}

export type UsageScope = { readonly repository: string } | { readonly namespace: string } | { readonly registry: true };

export interface UsageStore {
  usage(scope: UsageScope): Promise<Usage>;
  /** Every repository's usage, by name. */
  listRepositoryUsage(): Promise<Usage[]>;
  /** Bytes a manifest would add to the scope: its payload unless in scope, and its blobs not referenced in scope yet. */
  usageIncrease(scope: UsageScope, manifest: string, payloadBytes: number, blobs: readonly string[]): Promise<number>;
  /** Bytes of blob rows that no manifest references (GC candidates, pending pushes). */
  unreferencedBlobBytes(): Promise<{ blobs: number; bytes: number }>;
}

export interface TagRow {
  readonly name: string;
  readonly digest: string;
  /** When the tag was last pushed (ms since the epoch). */
  readonly updatedAt: number;
}

export interface PolicyStore {
  /** Every repository name. */
  listAllRepositories(): Promise<string[]>;
  listTagRows(repository: string): Promise<TagRow[]>;
  /**
   * Deletes tags (retention) and then removes from the repository the manifests left untagged that
   * nothing keeps: the given digests (tags the caller deleted), or every manifest untagged since
   * before `untaggedBefore`; with them go the untagged referrers of removed subjects and the untagged
   * children of removed indexes. Never a child of a kept index nor a referrer of a kept subject.
   * One transaction; with dryRun it is rolled back and only reports. Returns the removed digests.
   * `events` makes the event of each tag and manifest removed (appended in the same transaction).
   */
  removeUntagged(
    repository: string,
    options: { readonly deleteTags?: readonly string[]; readonly untaggedBefore?: number },
    dryRun: boolean,
    events?: RemovalEvents,
  ): Promise<{ tags: string[]; manifests: string[] }>;
}
