// Pages of tag names already read, per repository, so that a busy tags/list does not read the same
// rows again. The store drops a repository's pages whenever one of its tag rows changes (a TEMP
// trigger on this connection calls back), and every page when another connection has written
// (PRAGMA data_version moved: `berth gc` or another server on the same file).
//
// Eviction is second-chance (CLOCK) rather than strict LRU: a hit only marks its repository used.
// Moving it to the end of the Map on every hit (delete, then set) made V8 rebuild the Map's hash
// table, in the old generation once the Map was old: about 220 bytes of old-generation garbage per
// tags/list, which grew the heap by ~3 MB a second under load until a full collection.

interface Entry {
  /** Page key → names. */
  readonly pages: Map<string, readonly string[]>;
  /** Read since eviction last passed it: it is passed over once more. */
  used: boolean;
}

export class TagPageCache {
  /** Repository → its pages; Map order is the eviction order (oldest first). */
  readonly #entries = new Map<string, Entry>();
  readonly #maxNames: number;
  #names = 0;

  /** maxNames bounds the memory: the names held across all pages. */
  constructor(maxNames: number) {
    this.#maxNames = maxNames;
  }

  get(repository: string, after: string, limit: number): readonly string[] | undefined {
    const entry = this.#entries.get(repository);
    if (entry === undefined) return undefined;
    entry.used = true;
    return entry.pages.get(pageKey(after, limit));
  }

  set(repository: string, after: string, limit: number, names: readonly string[]): void {
    if (names.length > this.#maxNames) return;
    let entry = this.#entries.get(repository);
    if (entry === undefined) {
      entry = { pages: new Map(), used: false };
      this.#entries.set(repository, entry);
    }
    const key = pageKey(after, limit);
    this.#names += names.length - (entry.pages.get(key)?.length ?? 0);
    entry.pages.set(key, names);
    this.#evict(repository);
  }

  /** Forget one repository's pages, or (undefined) all of them. */
  invalidate(repository?: string): void {
    if (repository === undefined) {
      this.#entries.clear();
      this.#names = 0;
      return;
    }
    const entry = this.#entries.get(repository);
    if (entry === undefined) return;
    for (const names of entry.pages.values()) this.#names -= names.length;
    this.#entries.delete(repository);
  }

  /**
   * Drops the oldest repositories but `current` (just added to) until the names fit; one read since
   * the last pass goes to the end instead, once. If `current` alone is still too many, it goes too.
   */
  #evict(current: string): void {
    // Entries moved to the end are met again by this loop (a Map iterates over what is added), unmarked.
    for (const [repository, entry] of this.#entries) {
      if (this.#names <= this.#maxNames) return;
      if (repository === current) continue;
      if (entry.used) {
        entry.used = false;
        this.#entries.delete(repository);
        this.#entries.set(repository, entry);
      } else this.invalidate(repository);
    }
    if (this.#names > this.#maxNames) this.invalidate(current);
  }
}

function pageKey(after: string, limit: number): string {
  return `${limit}\n${after}`;
}
