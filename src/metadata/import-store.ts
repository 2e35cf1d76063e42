// The import journal (docs/import.md): what `berth import` finished, per source and repository, so
// that a rerun after a kill -9 and a second pass after more pushes skip what is already done. A
// repository's entry is written only once everything of it was imported, with a fingerprint of what
// the source held then (its tags, revisions and layer links); a pass whose fingerprint is the same
// skips the repository. Entries are an optimisation: deleting them only makes the next pass look at
// everything again (every import step is idempotent).

export interface ImportedRepository {
  readonly fingerprint: string;
  /** When the entry was written (ms since the epoch). */
  readonly importedAt: number;
}

export interface ImportStore {
  /** The journal entry of a repository of a source, if that repository was imported completely. */
  getImportedRepository(source: string, repository: string): Promise<ImportedRepository | undefined>;
  /** Records (or replaces) that the repository was imported completely with this fingerprint. */
  recordImportedRepository(source: string, repository: string, fingerprint: string): Promise<void>;
  /** Forgets every entry of the source (a full re-examination on the next pass). */
  forgetImportSource(source: string): Promise<void>;
}
