// The namespace tree of the web UI (docs/api.md, /v2/_berth/browse/namespaces): the children of a
// namespace prefix — repositories and deeper namespaces — with their storage usage. A page is found
// by a skip scan over the repository-name index: one seek per child, whatever the subtrees hold.
import type { BrowseStore } from '../metadata/browse.js';
import type { Usage, UsageStore } from '../metadata/lifecycle.js';
import { paginationInvalid } from './errors.js';
import type { PageResult } from './listing-service.js';
import { parseRepositoryName } from './names.js';

export interface NamespaceChild {
  /** The child's own path component. */
  readonly name: string;
  /** Its full path: the prefix, `/`, the name. */
  readonly path: string;
  /** A repository of that name exists (with a manifest). */
  readonly repository: boolean;
  /** Repositories exist under `path/`. */
  readonly namespace: boolean;
  /** Of the repository; of the namespace (the repository of its name and everything under it) when it is one. Null when the store cannot count or the caller may not see every repository under it. */
  readonly usage: Usage | null;
}

/** Above every character of a repository name ([a-z0-9._/-]): `p/~` bounds the names under `p/`. */
const TOP = '~';

export class NamespaceTree {
  readonly #store: BrowseStore;
  readonly #usage: UsageStore | undefined;
  readonly #maxPage: number;

  constructor(store: BrowseStore, usage: UsageStore | undefined, maxPage: number) {
    this.#store = store;
    this.#usage = usage;
    this.#maxPage = maxPage;
  }

  /**
   * One page of the children of `prefix` ('' for the top), in the order of their names, a
   * namespace-only child sorting as its name followed by `/`. `last` is the previous page's `next`
   * (an opaque scan position). With `visible` (a caller who may list only some repositories), only
   * children holding a repository it accepts, and no namespace usage (it would count hidden ones).
   */
  async children(prefix: string, n: number | undefined, last: string | undefined, visible?: (name: string) => boolean): Promise<PageResult<NamespaceChild>> {
    if (prefix !== '') parseRepositoryName(prefix);
    const size = Math.max(1, Math.min(n ?? 50, this.#maxPage));
    const base = prefix === '' ? '' : `${prefix}/`;
    const end = `${base}${TOP}`;
    if (last !== undefined && (!last.startsWith(base) || last.length <= base.length || last >= end)) throw paginationInvalid('last must be a `next` of the same prefix');
    const start = last ?? base;
    const found: { name: string; path: string; repository: boolean; namespace: boolean; cursor: string }[] = [];
    const repositories = new Set<string>();
    let cursor = start;
    while (found.length <= size) {
      const next = await this.#store.nextRepositoryName(cursor, end);
      if (next === undefined) break;
      const rest = next.slice(base.length);
      const slash = rest.indexOf('/');
      const name = slash < 0 ? rest : rest.slice(0, slash);
      const path = `${base}${name}`;
      if (slash < 0) {
        cursor = next;
        repositories.add(path);
        const nested = await this.#firstVisibleUnder(path, visible);
        if (visible !== undefined && !visible(path) && !nested) continue;
        found.push({ name, path, repository: visible === undefined || visible(path), namespace: nested, cursor });
      } else {
        cursor = `${path}/${TOP}`;
        // A repository of the same name sorts before everything under it: it was listed with it,
        // on this page or (when it sorts before the start) on an earlier one.
        if (repositories.has(path) || (path <= start && (await this.#isRepository(path)))) continue;
        if (!(await this.#firstVisibleUnder(path, visible))) continue;
        found.push({ name, path, repository: false, namespace: true, cursor });
      }
    }
    const page = found.slice(0, size);
    const items = await Promise.all(
      page.map(async ({ cursor: _cursor, ...child }): Promise<NamespaceChild> => ({ ...child, usage: await this.#usageOf(child, visible !== undefined) })),
    );
    return { items, next: found.length > size ? page[page.length - 1]?.cursor : undefined };
  }

  /**
   * Whether a repository of that name has a manifest: the only name between the one just below it
   * (its last character, always [a-z0-9], lowered by one, then TOP) and itself followed by `-`, the
   * lowest character that can extend a name.
   */
  async #isRepository(path: string): Promise<boolean> {
    const below = `${path.slice(0, -1)}${String.fromCharCode(path.charCodeAt(path.length - 1) - 1)}${TOP}`;
    return (await this.#store.nextRepositoryName(below, `${path}-`)) === path;
  }

  /** Whether a repository the caller may see exists under `path/`. */
  async #firstVisibleUnder(path: string, visible: ((name: string) => boolean) | undefined): Promise<boolean> {
    const end = `${path}/${TOP}`;
    for (let after = `${path}/`; ; ) {
      const next = await this.#store.nextRepositoryName(after, end);
      if (next === undefined) return false;
      if (visible === undefined || visible(next)) return true;
      after = next;
    }
  }

  async #usageOf(child: { path: string; repository: boolean; namespace: boolean }, partial: boolean): Promise<Usage | null> {
    if (this.#usage === undefined) return null;
    if (child.namespace) return partial ? null : this.#usage.usage({ namespace: child.path });
    return this.#usage.usage({ repository: child.path });
  }
}
