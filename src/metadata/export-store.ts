// What `berth import` reads when its source is another Berth store (docs/import.md: moving an
// embedded install to PostgreSQL + S3, or back): a repository's contents as a whole, and manifest
// bytes by digest (Berth keeps them in the metadata store, not beside the blobs).

export interface RepositoryContents {
  /** Digests of the blobs linked into the repository, sorted. */
  readonly blobs: readonly string[];
  /** Digests of the repository's manifests, tagged or not, sorted. */
  readonly manifests: readonly string[];
  /** Tag → the digest of the manifest it names. */
  readonly tags: ReadonlyMap<string, string>;
}

export interface ExportStore {
  /** The repository's blob links, manifests and tags (empty when there is no such repository). */
  readRepositoryContents(repository: string): Promise<RepositoryContents>;
  /** A manifest's exact bytes, whichever repository holds it; undefined when none does. */
  getManifestPayload(digest: string): Promise<Buffer | undefined>;
}
