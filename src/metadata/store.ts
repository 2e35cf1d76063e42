// The metadata store: repositories, blobs known to each repository, manifests (their exact bytes)
// and every reference they make, tags, subjects, upload sessions. Knows rows, not OCI: the
// registry layer has already parsed and validated what it hands over. Values are plain strings.
// Methods that change something take the notification events reporting it (event-store.ts) and
// append them in the same transaction, only when the change happens.
import type { OutboxEvent } from './event-store.js';

export interface BlobRow {
  readonly digest: string;
  readonly size: number;
}

export interface ManifestRow {
  readonly digest: string;
  readonly mediaType: string;
  readonly payload: Buffer;
}

export interface ReferrerRow {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly artifactType: string | null;
  /** JSON text of the manifest's annotations, or null. */
  readonly annotations: string | null;
}

export interface NewManifest {
  readonly repository: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly payload: Buffer;
  readonly artifactType: string | null;
  readonly annotations: string | null;
  readonly subject: string | null;
  /** Blobs (config, layers) that must already be in the repository. */
  readonly blobs: readonly string[];
  /** Manifests (index children) that must already be in the repository. */
  readonly manifests: readonly string[];
  readonly tag: string | null;
  /** The tag may not move: when it names another manifest, nothing is stored ({ ok: false, immutable }). */
  readonly immutableTag?: boolean;
  /**
   * A pull-through cache's copy of an upstream manifest: the blobs and manifests it references need
   * not be in the repository yet (they are fetched when a client pulls them), so they are not checked.
   */
  readonly fromUpstream?: boolean;
}

export type PutManifestResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly missing: 'blob' | 'manifest'; readonly digest: string }
  | { readonly ok: false; readonly missing?: undefined; readonly immutable: true; readonly current: string };

export interface UploadRow {
  readonly id: string;
  readonly repository: string;
  readonly startedAt: number;
}

/**
 * What every instance must know to continue an upload session that another one (or this one before a
 * restart) wrote to: how many bytes the running hash covers and its saved state, and who is writing
 * to the session now. Any change is a compare-and-set on `version` (casUploadState), so that two
 * requests racing on two instances cannot both write.
 */
export interface UploadState {
  /** Bytes covered by `hashState` (the stored object's size when the last writer finished). */
  readonly offset: number;
  /** The running sha256 after `offset` bytes, as resumable-sha256.ts saves it; null: none saved. */
  readonly hashState: Buffer | null;
  /** The request writing to the session now (a random token), or null. */
  readonly writer: string | null;
  /** Until when (ms since the epoch) `writer`'s claim holds; after that another request may take it. */
  readonly writerUntil: number;
  /** Incremented by every change. */
  readonly version: number;
}

export type UploadStateChange = Omit<UploadState, 'version'>;

export interface Page {
  readonly limit: number;
  /** Return entries strictly after this one (lexically), as `last` in the spec. */
  readonly after?: string | undefined;
}

export interface MetadataStore {
  /** Whether the repository exists (has had anything pushed to it). */
  hasRepository(repository: string): Promise<boolean>;

  /** A blob's row when the repository may see it. */
  getRepositoryBlob(repository: string, digest: string): Promise<BlobRow | undefined>;
  /** A blob's row when any repository holds it (bytes are in storage). */
  getBlob(digest: string): Promise<BlobRow | undefined>;
  /**
   * Records a verified, durably stored blob and makes it visible in the repository; when the blob
   * completes an upload session, the session ends in the same transaction. `bytesPresentSince` is a
   * time (ms since the epoch) at or after which the caller knows the bytes were at their key (taken
   * before committing or checking them); when the garbage collector may have deleted those bytes
   * after that time, the store refuses with BlobCollectedError and records nothing (docs/gc.md).
   */
  linkBlob(repository: string, blob: BlobRow, completedUpload?: string, bytesPresentSince?: number, events?: readonly OutboxEvent[]): Promise<void>;
  /** Hides the blob from the repository; true when it was visible. */
  unlinkBlob(repository: string, digest: string, events?: readonly OutboxEvent[]): Promise<boolean>;

  getManifestByDigest(repository: string, digest: string): Promise<ManifestRow | undefined>;
  getManifestByTag(repository: string, tag: string): Promise<ManifestRow | undefined>;
  /** One transaction: checks references, stores the manifest and its references, moves the tag. */
  putManifest(manifest: NewManifest, events?: readonly OutboxEvent[]): Promise<PutManifestResult>;
  /** Removes the manifest from the repository with every tag on it; true when it was there. */
  deleteManifest(repository: string, digest: string, events?: readonly OutboxEvent[]): Promise<boolean>;
  /** Removes one tag; true when it existed. */
  deleteTag(repository: string, tag: string, events?: readonly OutboxEvent[]): Promise<boolean>;
  /** The tags naming the manifest in the repository. */
  listTagsOfManifest(repository: string, digest: string): Promise<string[]>;

  /** Tags in lexical order; undefined when the repository is unknown. */
  listTags(repository: string, page: Page): Promise<string[] | undefined>;
  /** Repository names in lexical order. */
  listRepositories(page: Page): Promise<string[]>;
  /** Manifests in the repository whose subject is the digest, in digest order. */
  listReferrers(repository: string, subject: string, artifactType?: string): Promise<ReferrerRow[]>;

  createUpload(upload: UploadRow): Promise<void>;
  getUpload(repository: string, id: string): Promise<UploadRow | undefined>;
  deleteUpload(id: string): Promise<void>;
  hasUpload(id: string): Promise<boolean>;
  /** The session's shared state; undefined when the session is unknown (or ended). */
  getUploadState(id: string): Promise<UploadState | undefined>;
  /**
   * Replaces the session's state when its version is still `version` (the version becomes
   * `version + 1`); false, changing nothing, when it is not or the session is gone.
   */
  casUploadState(id: string, version: number, next: UploadStateChange): Promise<boolean>;
  /** Upload sessions started before the time (ms since the epoch), oldest first. */
  listUploadsStartedBefore(time: number, limit: number): Promise<UploadRow[]>;
  /** How many upload sessions exist (metrics: uploads in progress). */
  countUploads(): Promise<number>;

  /** Schema migrations applied to the database, and how many this code knows (readiness). */
  schemaStatus(): Promise<{ readonly applied: number; readonly expected: number }>;

  close(): Promise<void>;
}

/** linkBlob refused: the collector may have deleted the blob's bytes after they were committed. */
export class BlobCollectedError extends Error {
  readonly digest: string;
  constructor(digest: string) {
    super(`metadata: the bytes of ${digest} may have been collected; check them and link again`);
    this.name = 'BlobCollectedError';
    this.digest = digest;
  }
}
