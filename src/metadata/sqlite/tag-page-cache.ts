// Pages of tag names already read, per repository, so that a busy tags/list does not read the same
// rows again. The store drops a repository's pages whenever one of its tag rows changes (a TEMP
// trigger on this connection calls back), and every page when another connection has written
// (PRAGMA data_version moved: `berth gc` or another server on the same file).

export class TagPageCache {
  /** Repository → (page key → names); Map order is least recently used first. */
  readonly #pages = new Map<string, Map<string, readonly string[]>>();
  readonly #maxNames: number;
  #names = 0;

  /** maxNames bounds the memory: the names held across all pages. */
  constructor(maxNames: number) {
    this.#maxNames = maxNames;
  }

  get(repository: string, after: string, limit: number): readonly string[] | undefined {
    const pages = this.#pages.get(repository);
    if (pages === undefined) return undefined;
    // Most recently used last.
    this.#pages.delete(repository);
    this.#pages.set(repository, pages);
    return pages.get(pageKey(after, limit));
  }

  set(repository: string, after: string, limit: number, names: readonly string[]): void {
    if (names.length > this.#maxNames) return;
    let pages = this.#pages.get(repository);
    if (pages === undefined) {
      pages = new Map();
      this.#pages.set(repository, pages);
    }
    const key = pageKey(after, limit);
    this.#names += names.length - (pages.get(key)?.length ?? 0);
    pages.set(key, names);
    for (const [oldest] of this.#pages) {
      if (this.#names <= this.#maxNames) break;
      this.invalidate(oldest);
    }
  }

  /** Forget one repository's pages, or (undefined) all of them. */
  invalidate(repository?: string): void {
    if (repository === undefined) {
      this.#pages.clear();
      this.#names = 0;
      return;
    }
    const pages = this.#pages.get(repository);
    if (pages === undefined) return;
    for (const names of pages.values()) this.#names -= names.length;
    this.#pages.delete(repository);
  }
}

function pageKey(after: string, limit: number): string {
  return `${limit}\n${after}`;
}
