// What the web UI's JSON API (/v2/_berth/browse, docs/api.md) asks of the metadata store beyond
// the spec's listings: repositories found by name, tags with their digest, size and push time,
// sortable by name or push time, and the tags of a manifest. Every method is O(page): keyset
// pagination over an index, never an OFFSET nor a count over the whole registry.

/** Tags are counted up to this many (a page stays O(page) whatever a repository holds); more reads as the cap. */
export const TAG_COUNT_CAP = 1000;

export interface RepositorySummary {
  readonly name: string;
  /** Tags in the repository, counted up to TAG_COUNT_CAP. */
  readonly tags: number;
  /** When a tag was last pushed or moved in it (ms since the epoch), or null when it has none. */
  readonly pushedAt: number | null;
}

export interface RepositorySearch {
  /** Only names containing this text (case-sensitive: repository names are lower case); all when empty. */
  readonly contains: string;
  readonly limit: number;
  /** Names strictly after this one, in lexical order. */
  readonly after?: string | undefined;
}

export interface TagDetail {
  readonly name: string;
  readonly digest: string;
  readonly mediaType: string;
  /** The manifest's payload bytes plus the blobs it references, and those of its child manifests (an index). */
  readonly size: number;
  /** When the tag was last pushed or moved (ms since the epoch). */
  readonly pushedAt: number;
}

/** A position in a tag listing: by name, after `name`; by push time (newest first), after (`pushedAt`, `name`). */
export type TagCursor = { readonly sort: 'name'; readonly after?: string | undefined } | { readonly sort: 'pushed'; readonly after?: { readonly pushedAt: number; readonly name: string } | undefined };

export interface ManifestSummary {
  readonly digest: string;
  readonly mediaType: string;
  /** As TagDetail.size. */
  readonly size: number;
  readonly artifactType: string | null;
  readonly subject: string | null;
  /** When the manifest was first stored in the repository (ms since the epoch). */
  readonly createdAt: number;
  /** Tags in the repository naming it, in lexical order. */
  readonly tags: readonly string[];
  /** Indexes in the repository that list it as a child. */
  readonly parents: readonly string[];
  /** Manifests in the repository whose subject it is, counted by artifactType ('' for none). */
  readonly referrers: Readonly<Record<string, number>>;
}

export interface BrowseStore {
  /** One page of repositories that have a manifest, in lexical order. */
  searchRepositories(search: RepositorySearch): Promise<RepositorySummary[]>;
  /** One repository's summary, or undefined when it does not exist. */
  getRepositorySummary(repository: string): Promise<RepositorySummary | undefined>;
  /** One page of a repository's tags; undefined when the repository is unknown. */
  listTagDetails(repository: string, cursor: TagCursor, limit: number): Promise<TagDetail[] | undefined>;
  /**
   * The first repository that has a manifest whose name is strictly between `after` and `before`
   * (lexical order): one index seek, the step of the namespace tree's skip scan.
   */
  nextRepositoryName(after: string, before: string): Promise<string | undefined>;
  /** What the store knows about one manifest in a repository, or undefined when it is not there. */
  getManifestSummary(repository: string, digest: string): Promise<ManifestSummary | undefined>;
}
