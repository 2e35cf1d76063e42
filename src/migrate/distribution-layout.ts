// Reading distribution's storage layout (registry/storage/paths.go in distribution), the source of
// `berth import`. Below the root (`<rootdirectory>/docker/registry/v2`):
//   blobs/<algorithm>/<first two hex>/<hex>/data                    every blob's (and manifest's) bytes
//   repositories/<name>/_layers/<algorithm>/<hex>/link              the repository may see the blob
//   repositories/<name>/_manifests/revisions/<algorithm>/<hex>/link a manifest of the repository
//   repositories/<name>/_manifests/tags/<tag>/current/link          the manifest the tag names
//   repositories/<name>/_uploads/<id>/…                             unfinished uploads (not imported)
// A link file holds a digest ("sha256:<hex>"). A repository name may have several components: a
// directory is a repository when it holds `_manifests` or `_layers`, and directories not starting
// with "_" below it may be more repositories.

import type { ObjectLocation } from '../storage/driver.js';

/** One repository as the source lays it out: digests as they appear in its link files. */
export interface LayoutRepository {
  readonly name: string;
  /** Digests of `_layers` links. */
  readonly layers: readonly string[];
  /** Digests of `_manifests/revisions` links. */
  readonly revisions: readonly string[];
  /** Tag → digest of `current/link`; a tag whose link is unreadable maps to undefined (a dangling tag). */
  readonly tags: ReadonlyMap<string, string | undefined>;
  /** Unfinished upload sessions under `_uploads` (reported, not imported). */
  readonly uploads: number;
}

/** Where a blob's bytes are, for a destination that can take them without reading them (hard link, server-side copy). */
export type BlobLocation = ObjectLocation;

export interface BlobSource {
  readonly size: number;
  /** undefined: only through `open` (a source driver that cannot say where its bytes are). */
  readonly location?: BlobLocation;
  /** A stream of the bytes (verification, or a copy when the destination cannot link). */
  open(): Promise<NodeJS.ReadableStream>;
}

export interface DistributionLayout {
  /** Names the journal under: the same source imported twice is the same name. */
  readonly source: string;
  /** Repository names, in lexical order. */
  listRepositories(): Promise<string[]>;
  readRepository(name: string): Promise<LayoutRepository>;
  /**
   * Optional: a cheap fingerprint of the repository's links that changes whenever any of them does,
   * taken without reading them (directory and link mtimes on a filesystem, keys and ETags of one
   * listing on S3), and its unfinished uploads. Undefined fingerprint: not trustworthy this time (an
   * mtime too recent to tell a later write in the same clock tick apart); the pass then reads the links.
   */
  quickFingerprint?(name: string): Promise<{ readonly fingerprint: string | undefined; readonly uploads: number }>;
  /** The blob's bytes, or undefined when `blobs/…/data` is missing. */
  blob(digest: string): Promise<BlobSource | undefined>;
  /** A whole small blob (a manifest), or undefined when missing. */
  readBlob(digest: string): Promise<Buffer | undefined>;
}

const LINK = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-f0-9]{32,})$/;

/** The digest a link file's text names, or undefined when it names none. */
export function parseLink(text: string): string | undefined {
  const trimmed = text.trim();
  return LINK.test(trimmed) ? trimmed : undefined;
}

/** `blobs/<algorithm>/<xx>/<hex>/data` of a digest (undefined for a digest that is no digest). */
export function blobDataPath(digest: string): string | undefined {
  const match = LINK.exec(digest);
  if (match === null) return undefined;
  const [, algorithm, hex] = match as unknown as [string, string, string];
  return `blobs/${algorithm}/${hex.slice(0, 2)}/${hex}/data`;
}
