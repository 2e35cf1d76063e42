// Listings: tags of a repository, the catalog of repositories, referrers of a subject.
import type { MetadataStore, ReferrerRow } from '../metadata/store.js';
import type { Digest } from './digest.js';
import { nameUnknown, paginationInvalid } from './errors.js';
import { MediaType } from './media-types.js';
import type { RepositoryName } from './names.js';
import type { PullThrough } from './proxy-service.js';

export interface PageRequest {
  /** Requested page size, or undefined for the default. */
  readonly n: number | undefined;
  readonly last: string | undefined;
}

export interface PageResult<T> {
  readonly items: T[];
  /** Set when another page may follow: the `last` value for it. */
  readonly next: string | undefined;
}

export interface ListingLimits {
  /** Page size when the client names none (undefined: everything). */
  readonly defaultTags: number | undefined;
  readonly defaultCatalog: number;
  /** The largest page served whatever the client asks. */
  readonly maxPage: number;
}

export interface ReferrersIndex {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly manifests: object[];
}

export function parsePageRequest(n: string | null, last: string | null): PageRequest {
  let size: number | undefined;
  if (n !== null) {
    if (!/^\d{1,9}$/.test(n)) throw paginationInvalid('n must be a non-negative integer');
    size = Number(n);
  }
  return { n: size, last: last ?? undefined };
}

export class ListingService {
  readonly #metadata: MetadataStore;
  readonly #limits: ListingLimits;
  readonly #proxy: PullThrough | undefined;

  /** `proxy`: a proxied repository lists its upstream's tags (the cache's when the upstream cannot say) and referrers. */
  constructor(metadata: MetadataStore, limits: ListingLimits, proxy?: PullThrough) {
    this.#metadata = metadata;
    this.#limits = limits;
    this.#proxy = proxy;
  }

  async tags(repository: RepositoryName, page: PageRequest): Promise<PageResult<string>> {
    const size = Math.min(page.n ?? this.#limits.defaultTags ?? this.#limits.maxPage, this.#limits.maxPage);
    if (size > 0) {
      const upstream = await this.#proxy?.tags(repository, size, page.last);
      if (upstream !== undefined) return upstream;
    }
    const rows = size === 0 ? await this.#metadata.listTags(repository, { limit: 0 }) : await this.#metadata.listTags(repository, { limit: size + 1, after: page.last });
    if (rows === undefined) throw nameUnknown(repository);
    return pageOf(rows, size);
  }

  /** One page of repository names; with `visible`, only the names it accepts (pages stay full). */
  async catalog(page: PageRequest, visible?: (name: string) => boolean): Promise<PageResult<string>> {
    const size = Math.min(page.n ?? this.#limits.defaultCatalog, this.#limits.maxPage);
    if (size === 0) return { items: [], next: undefined };
    if (visible === undefined) return pageOf(await this.#metadata.listRepositories({ limit: size + 1, after: page.last }), size);
    const shown: string[] = [];
    let after = page.last;
    const batch = Math.max(size + 1, 100);
    for (;;) {
      const rows = await this.#metadata.listRepositories({ limit: batch, after });
      for (const name of rows) {
        if (visible(name)) shown.push(name);
        if (shown.length > size) return pageOf(shown, size);
      }
      if (rows.length < batch) return pageOf(shown, size);
      after = rows[rows.length - 1];
    }
  }

  /** One page of the referrers index; `last` is the last digest of the previous page. */
  async referrers(repository: RepositoryName, subject: Digest, artifactType: string | undefined, page: PageRequest): Promise<PageResult<object> & { index: ReferrersIndex }> {
    const size = Math.min(page.n ?? this.#limits.maxPage, this.#limits.maxPage);
    // A proxied repository's referrers are its upstream's, brought into the cache first.
    if (page.last === undefined) await this.#proxy?.syncReferrers(repository, subject);
    const rows = (await this.#metadata.listReferrers(repository, subject, artifactType)).filter((row) => page.last === undefined || row.digest > page.last);
    const items = rows.slice(0, size);
    const next = rows.length > size ? items[items.length - 1]?.digest : undefined;
    const manifests = items.map(referrerDescriptor);
    return { items: manifests, next, index: { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests } };
  }
}

function pageOf(rows: string[], size: number): PageResult<string> {
  if (rows.length > size) {
    const items = rows.slice(0, size);
    return { items, next: items[items.length - 1] };
  }
  return { items: rows, next: undefined };
}

function referrerDescriptor(row: ReferrerRow): object {
  return {
    mediaType: row.mediaType,
    digest: row.digest,
    size: row.size,
    ...(row.artifactType === null ? {} : { artifactType: row.artifactType }),
    ...(row.annotations === null ? {} : { annotations: JSON.parse(row.annotations) as object }),
  };
}
