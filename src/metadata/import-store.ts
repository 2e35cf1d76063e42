// The import journal (docs/import.md): what `berth import` finished, per source and repository, so
// that a rerun after a kill -9 and a second pass after more pushes skip what is already done. A
// repository's entry is written only once everything of it was imported, with a fingerprint of what
// the source held then (its tags, revisions and layer links); a pass whose fingerprint is the same
// skips the repository. Entries are an optimisation: deleting them only makes the next pass look at
// everything again (every import step is idempotent). The import writes a repository's blob links
// and its manifests and tags in batches (one transaction each), not one transaction per row.

import type { BlobRow, NewManifest, PutManifestResult } from './store.js';

export interface ImportedRepository {
  readonly fingerprint: string;
  /** When the entry was written (ms since the epoch). */
  readonly importedAt: number;
}

export interface ImportStore {
  /** The journal entry of a repository of a source, if that repository was imported completely. */
  getImportedRepository(source: string, repository: string): Promise<ImportedRepository | undefined>;
  /** The journal entries of these repositories of a source (one query; absent: not journalled). */
  getImportedRepositories(source: string, repositories: readonly string[]): Promise<Map<string, ImportedRepository>>;
  /** Records (or replaces) that the repository was imported completely with this fingerprint. */
  recordImportedRepository(source: string, repository: string, fingerprint: string): Promise<void>;
  /** Forgets every entry of the source (a full re-examination on the next pass). */
  forgetImportSource(source: string): Promise<void>;
  /**
   * Links blobs whose bytes are at their keys into the repository, in one transaction, each as
   * MetadataStore.linkBlob would (with its `bytesPresentSince`); returns the digests not linked
   * because the collector may have deleted their bytes meanwhile (BlobCollectedError of linkBlob):
   * the others are linked all the same.
   */
  linkBlobs(repository: string, blobs: readonly (BlobRow & { readonly bytesPresentSince: number })[]): Promise<string[]>;
  /**
   * MetadataStore.putManifest of each manifest in order, in one transaction, one result each (a
   * manifest refused for a missing reference or an immutable tag stores nothing of it; the others
   * are stored). A manifest's quotas apply as in putManifest; QuotaExceededError rolls the whole batch back.
   */
  putManifests(manifests: readonly NewManifest[]): Promise<PutManifestResult[]>;
}
