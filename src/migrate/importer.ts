// `berth import`: distribution's storage layout into a Berth store (docs/import.md). Per repository:
// its layer links become blob links (bytes verified, then hard-linked into the destination when it
// can, copied otherwise: never held in memory), its revisions become manifests (exact bytes, children
// before indexes), its tags move onto them, and tags the source no longer has are removed. What Berth
// refuses is reported by name and does not stop the rest. Every step is idempotent; a repository is
// journalled (ImportStore) once all of it came over, so a rerun after kill -9 redoes at most the
// repositories in flight, and a second pass skips repositories whose links did not change. The
// destination's rows are written in batches: a repository's blob links in one transaction, its
// manifests and tags in one per round (images, then the indexes over them), the journal read for
// JOURNAL_BATCH repositories at once.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { ExportStore, RepositoryContents } from '../metadata/export-store.js';
import type { ImportedRepository, ImportStore } from '../metadata/import-store.js';
import type { MetadataStore, NewManifest } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import { blobKey } from '../registry/blob-keys.js';
import { linkStoredBlob } from '../registry/blob-link.js';
import { createDigester, digestAlgorithm, digestHex, digestOf, isDigest, type Digest } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import { parseManifest, type ParsedManifest } from '../registry/manifest-kinds.js';
import { isTag, parseRepositoryName, type RepositoryName } from '../registry/names.js';
import type { BlobSource, DistributionLayout, LayoutRepository } from './distribution-layout.js';

export type RefusalKind =
  | 'invalid-repository-name'
  | 'invalid-tag'
  | 'missing-blob'
  | 'corrupt-blob'
  | 'missing-manifest'
  | 'corrupt-manifest'
  | 'schema1-manifest'
  | 'invalid-manifest'
  | 'manifest-references-missing'
  | 'dangling-tag';

export interface Refusal {
  readonly kind: RefusalKind;
  readonly repository: string;
  readonly digest?: string;
  readonly tag?: string;
  readonly reason: string;
}

export interface ImportProgress {
  readonly repositoriesTotal: number;
  readonly repositoriesDone: number;
  readonly manifests: number;
  readonly tags: number;
  readonly blobBytes: number;
  readonly elapsedMs: number;
}

export interface ImportReport {
  readonly source: string;
  readonly dryRun: boolean;
  readonly verified: boolean;
  readonly noVerifyReason?: string;
  /** unchangedUnread: of the unchanged, those whose quick fingerprint (no link read) matched the journal. */
  readonly repositories: { readonly total: number; readonly imported: number; readonly unchanged: number; readonly unchangedUnread: number; readonly withRefusals: number };
  /** Manifests stored in a repository by this pass (dry run: that would be). */
  readonly manifests: number;
  /** Manifests already in their repository. */
  readonly manifestsPresent: number;
  readonly tags: number;
  readonly tagsRemoved: number;
  /** Manifests a later pass removed from their repository because the source no longer has them (deleted there since). */
  readonly manifestsRemoved: number;
  readonly layerLinks: number;
  /** hardLinked: on the same filesystem; serverSideCopied: S3 to S3 (CopyObject/UploadPartCopy); copied: streamed through the process. */
  readonly blobs: { readonly hardLinked: number; readonly serverSideCopied: number; readonly copied: number; readonly present: number; readonly bytes: number; readonly bytesCopied: number; readonly bytesVerified: number };
  readonly unfinishedUploadsSkipped: number;
  readonly refusals: readonly Refusal[];
  readonly durationMs: number;
}

export interface ImportOptions {
  readonly dryRun?: boolean;
  /** Skip hashing blob bytes; the reason goes into the report. */
  readonly noVerifyReason?: string;
  /** Repositories imported at once (default 4). */
  readonly concurrency?: number;
  /** Ignore the journal: look at every repository again. */
  readonly full?: boolean;
  readonly onProgress?: (progress: ImportProgress) => void;
  /** Called when a repository is done (tests use it to kill mid-run at a known point). */
  readonly onRepository?: (name: string, outcome: 'imported' | 'unchanged' | 'refused') => void;
}

/** Repositories whose journal entries are read in one query. */
const JOURNAL_BATCH = 500;

type BlobOutcome = { readonly ok: true; readonly size: number; readonly since: number } | { readonly ok: false; readonly kind: 'missing-blob' | 'corrupt-blob'; readonly reason: string };

interface Parsed {
  readonly digest: Digest;
  readonly payload: Buffer;
  readonly manifest: ParsedManifest;
}

export class Importer {
  readonly #layout: DistributionLayout;
  readonly #metadata: MetadataStore;
  readonly #journal: ImportStore & ExportStore;
  /** Journal entries by batch of JOURNAL_BATCH names (an entry is taken out once used). */
  readonly #journalBatches = new Map<number, Promise<Map<string, ImportedRepository>>>();
  #names: readonly string[] = [];
  readonly #storage: StorageDriver;
  readonly #options: ImportOptions;
  readonly #blobs = new Map<string, Promise<BlobOutcome>>();
  readonly #refusals: Refusal[] = [];
  /** Refusals per repository (repositories run concurrently). */
  readonly #refusedIn = new Map<string, number>();
  #started = 0;
  #counts = { imported: 0, unchanged: 0, withRefusals: 0, done: 0, total: 0, manifests: 0, manifestsPresent: 0, tags: 0, tagsRemoved: 0, manifestsRemoved: 0, layerLinks: 0, unread: 0, hardLinked: 0, serverSideCopied: 0, copied: 0, present: 0, bytes: 0, bytesCopied: 0, bytesVerified: 0, uploads: 0 };

  constructor(layout: DistributionLayout, metadata: MetadataStore, journal: ImportStore & ExportStore, storage: StorageDriver, options: ImportOptions = {}) {
    this.#layout = layout;
    this.#metadata = metadata;
    this.#journal = journal;
    this.#storage = storage;
    this.#options = options;
  }

  get #dryRun(): boolean {
    return this.#options.dryRun === true;
  }

  get #verify(): boolean {
    return this.#options.noVerifyReason === undefined;
  }

  async run(): Promise<ImportReport> {
    this.#started = Date.now();
    const names = await this.#layout.listRepositories();
    this.#names = names;
    this.#counts.total = names.length;
    this.#progress();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) {
        const index = next++;
        const name = names[index] as string;
        const outcome = await this.#importRepository(name, index);
        if (outcome === 'imported') this.#counts.imported++;
        else if (outcome === 'unchanged') this.#counts.unchanged++;
        else this.#counts.withRefusals++;
        this.#counts.done++;
        this.#options.onRepository?.(name, outcome);
        this.#progress();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.#options.concurrency ?? 4) }, worker));
    const c = this.#counts;
    return {
      source: this.#layout.source,
      dryRun: this.#dryRun,
      verified: this.#verify,
      ...(this.#options.noVerifyReason === undefined ? {} : { noVerifyReason: this.#options.noVerifyReason }),
      repositories: { total: c.total, imported: c.imported, unchanged: c.unchanged, unchangedUnread: c.unread, withRefusals: c.withRefusals },
      manifests: c.manifests,
      manifestsPresent: c.manifestsPresent,
      tags: c.tags,
      tagsRemoved: c.tagsRemoved,
      manifestsRemoved: c.manifestsRemoved,
      layerLinks: c.layerLinks,
      blobs: { hardLinked: c.hardLinked, serverSideCopied: c.serverSideCopied, copied: c.copied, present: c.present, bytes: c.bytes, bytesCopied: c.bytesCopied, bytesVerified: c.bytesVerified },
      unfinishedUploadsSkipped: c.uploads,
      refusals: [...this.#refusals].sort((a, b) => (a.repository + a.kind + (a.digest ?? a.tag ?? '')).localeCompare(b.repository + b.kind + (b.digest ?? b.tag ?? ''))),
      durationMs: Date.now() - this.#started,
    };
  }

  #progress(): void {
    const c = this.#counts;
    this.#options.onProgress?.({ repositoriesTotal: c.total, repositoriesDone: c.done, manifests: c.manifests, tags: c.tags, blobBytes: c.bytes, elapsedMs: Date.now() - this.#started });
  }

  #refuse(refusal: Refusal): void {
    this.#refusals.push(refusal);
    this.#refusedIn.set(refusal.repository, (this.#refusedIn.get(refusal.repository) ?? 0) + 1);
  }

  /** The journal entry of the repository at `index` of the pass's names (its batch read once). */
  async #journalled(name: string, index: number): Promise<ImportedRepository | undefined> {
    const batch = Math.floor(index / JOURNAL_BATCH);
    let entries = this.#journalBatches.get(batch);
    if (entries === undefined) {
      entries = this.#journal.getImportedRepositories(this.#layout.source, this.#names.slice(batch * JOURNAL_BATCH, (batch + 1) * JOURNAL_BATCH));
      this.#journalBatches.set(batch, entries);
      this.#journalBatches.delete(batch - 2);
    }
    const journal = await entries;
    const entry = journal.get(name);
    journal.delete(name);
    return entry;
  }

  async #importRepository(name: string, index: number): Promise<'imported' | 'unchanged' | 'refused'> {
    let repository: RepositoryName;
    try {
      repository = parseRepositoryName(name);
    } catch (error) {
      if (!(error instanceof RegistryError)) throw error;
      this.#refuse({ kind: 'invalid-repository-name', repository: name, reason: error.message });
      return 'refused';
    }
    // The quick fingerprint first: a change after it is seen by the next pass's.
    const quick = await this.#layout.quickFingerprint?.(name);
    const journalled = this.#options.full === true ? undefined : journalEntryOf((await this.#journalled(name, index))?.fingerprint);
    if (quick?.fingerprint !== undefined && journalled?.quick === quick.fingerprint) {
      this.#counts.uploads += quick.uploads;
      this.#counts.unread++;
      return 'unchanged';
    }
    const layout = await this.#layout.readRepository(name);
    this.#counts.uploads += layout.uploads;
    const content = fingerprintOf(layout);
    const fingerprint = journalEntry(quick?.fingerprint, content);
    if (journalled?.content === content) {
      // Unchanged, but the quick fingerprint was new or untrustworthy: record it for the next pass.
      if (!this.#dryRun && quick?.fingerprint !== undefined) await this.#journal.recordImportedRepository(this.#layout.source, name, fingerprint);
      return 'unchanged';
    }
    const present = await this.#journal.readRepositoryContents(repository);
    await this.#importLayers(repository, layout, present);
    await this.#importManifests(repository, layout, present);
    await this.#removeTags(repository, layout, present);
    // A repository an earlier pass brought over mirrors the source: what was deleted there since goes.
    // (A first pass into a store that already holds the repository leaves its other manifests.)
    if (journalled !== undefined) await this.#removeManifests(repository, layout, present);
    // Repositories run concurrently: count this one's refusals only.
    if (this.#refusedIn.has(name)) return 'refused';
    if (!this.#dryRun) await this.#journal.recordImportedRepository(this.#layout.source, name, fingerprint);
    return 'imported';
  }

  async #importLayers(repository: RepositoryName, layout: LayoutRepository, present: RepositoryContents): Promise<void> {
    const linked = new Set(present.blobs);
    const batch: { digest: Digest; size: number; bytesPresentSince: number }[] = [];
    for (const digest of layout.layers) {
      if (!isDigest(digest) || linked.has(digest)) continue;
      const outcome = await this.#ensureBlob(digest as Digest);
      if (!outcome.ok) {
        this.#refuse({ kind: outcome.kind, repository, digest, reason: outcome.reason });
        continue;
      }
      batch.push({ digest: digest as Digest, size: outcome.size, bytesPresentSince: outcome.since });
    }
    if (this.#dryRun) {
      this.#counts.layerLinks += batch.length;
      return;
    }
    const collected = new Set(await this.#journal.linkBlobs(repository, batch));
    this.#counts.layerLinks += batch.length - collected.size;
    for (const digest of collected) {
      // Collected meanwhile (a gc racing the import): bring the bytes again, once, and link that one alone.
      this.#blobs.delete(digest);
      const again = await this.#ensureBlob(digest as Digest);
      if (!again.ok || !(await linkStoredBlob(this.#metadata, this.#storage, repository, { digest: digest as Digest, size: again.size }, undefined, again.since))) {
        this.#refuse({ kind: 'missing-blob', repository, digest, reason: 'the blob was collected while it was imported' });
        continue;
      }
      this.#counts.layerLinks++;
    }
  }

  /** The blob's bytes at their key in the destination (verified unless --no-verify); once per digest. */
  #ensureBlob(digest: Digest): Promise<BlobOutcome> {
    let outcome = this.#blobs.get(digest);
    if (outcome === undefined) {
      outcome = this.#bringBlob(digest);
      this.#blobs.set(digest, outcome);
    }
    return outcome;
  }

  async #bringBlob(digest: Digest): Promise<BlobOutcome> {
    const key = blobKey(digest);
    const since = Date.now();
    const known = await this.#metadata.getBlob(digest);
    if (known !== undefined && (await this.#storage.stat(key))?.size === known.size) {
      this.#counts.present++;
      return { ok: true, size: known.size, since };
    }
    const source = await this.#layout.blob(digest);
    if (source === undefined) return { ok: false, kind: 'missing-blob', reason: `${digest}: no blob data in the source` };
    if (this.#dryRun) {
      if (this.#verify) {
        const actual = await hashStream(await source.open(), digest);
        this.#counts.bytesVerified += actual.size;
        if (actual.digest !== digest) return { ok: false, kind: 'corrupt-blob', reason: `the source's bytes hash to ${actual.digest}` };
      }
      this.#counts.bytes += source.size;
      return { ok: true, size: source.size, since };
    }
    const location = source.location;
    if (location?.kind === 's3' && this.#storage.copyFromS3 !== undefined && this.#storage.copiesFromS3?.(location.endpoint) === true) {
      // S3 to S3: the source's bytes hashed where they are (unless --no-verify), then one server-side
      // copy straight to the content-addressed key, of the object that was hashed (its ETag).
      if (this.#verify) {
        const actual = await hashStream(await source.open(), digest);
        this.#counts.bytesVerified += actual.size;
        if (actual.digest !== digest) return { ok: false, kind: 'corrupt-blob', reason: `the source's bytes hash to ${actual.digest}` };
      }
      const copiedSince = Date.now();
      if (await this.#storage.copyFromS3({ ...location, size: source.size }, key)) {
        this.#counts.bytes += source.size;
        this.#counts.serverSideCopied++;
        return { ok: true, size: source.size, since: copiedSince };
      }
      // Refused (credentials, the object gone or changed since): streamed below, hashed on the way.
    }
    const scratch = `uploads/import-${process.pid}-${digestHex(digest)}`;
    const linked = await this.#placeBlob(source, scratch, digest);
    if (this.#verify) {
      // A copy was hashed on its way; a hard link is hashed here, once it is the destination's own file.
      const actual = linked.actual ?? (await hashStream(await this.#storage.read(scratch), digest));
      this.#counts.bytesVerified += actual.size;
      if (actual.digest !== digest) {
        await this.#storage.delete(scratch);
        return { ok: false, kind: 'corrupt-blob', reason: `the source's bytes hash to ${actual.digest}` };
      }
    }
    const committedSince = Date.now();
    await this.#storage.commit(scratch, key);
    this.#counts.bytes += source.size;
    if (linked.placed === 'hard-link') this.#counts.hardLinked++;
    else {
      this.#counts.copied++;
      this.#counts.bytesCopied += source.size;
    }
    return { ok: true, size: source.size, since: committedSince };
  }

  /** The source's bytes at `scratch`: hard-linked when the destination can, streamed (and hashed on the way) otherwise. */
  async #placeBlob(source: BlobSource, scratch: string, digest: Digest): Promise<{ placed: 'hard-link' | 'stream'; actual?: { digest: string; size: number } }> {
    const location = source.location;
    if (location?.kind === 'file' && this.#storage.linkFrom !== undefined && (await this.#storage.linkFrom(location.path, scratch))) {
      return { placed: 'hard-link' };
    }
    await this.#storage.delete(scratch);
    const writer = await this.#storage.append(scratch, { last: true });
    const hash = createDigester(digestAlgorithm(digest));
    let size = 0;
    const tap = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        hash.update(chunk);
        size += chunk.length;
        if (writer.stream.write(chunk)) callback();
        else writer.stream.once('drain', () => callback());
      },
      final: (callback) => {
        writer.stream.end(() => callback());
      },
    });
    writer.stream.on('error', (error) => tap.destroy(error));
    await pipeline(await source.open(), tap);
    return { placed: 'stream', actual: { digest: `${digestAlgorithm(digest)}:${hash.digest('hex')}`, size } };
  }

  async #importManifests(repository: RepositoryName, layout: LayoutRepository, present: RepositoryContents): Promise<void> {
    const inRepository = new Set(present.manifests);
    const parsed = new Map<string, Parsed>();
    for (const digest of layout.revisions) {
      if (!isDigest(digest)) continue;
      const payload = await this.#layout.readBlob(digest);
      if (payload === undefined) {
        this.#refuse({ kind: 'missing-manifest', repository, digest, reason: 'a revision link names a manifest whose blob data is missing (dangling link)' });
        continue;
      }
      const actual = digestOf(payload, digestAlgorithm(digest as Digest));
      if (actual !== digest) {
        this.#refuse({ kind: 'corrupt-manifest', repository, digest, reason: `the manifest's bytes hash to ${actual}` });
        continue;
      }
      try {
        parsed.set(digest, { digest: digest as Digest, payload, manifest: parseManifest(payload, undefined) });
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        this.#refuse({ kind: isSchema1(payload) ? 'schema1-manifest' : 'invalid-manifest', repository, digest, reason: error.message });
      }
    }
    // The tags to set: valid, naming a parsed manifest, not already on it.
    const tagsOf = new Map<string, string[]>();
    for (const [tag, digest] of layout.tags) {
      if (!isTag(tag)) {
        this.#refuse({ kind: 'invalid-tag', repository, tag, reason: 'not a tag under the OCI grammar' });
        continue;
      }
      if (digest === undefined) {
        this.#refuse({ kind: 'dangling-tag', repository, tag, reason: 'the tag has no readable current/link' });
        continue;
      }
      if (!parsed.has(digest)) {
        this.#refuse({ kind: 'dangling-tag', repository, tag, digest, reason: 'the tag names a manifest that was not imported (no revision, missing or refused)' });
        continue;
      }
      if (present.tags.get(tag) === digest) continue;
      tagsOf.set(digest, [...(tagsOf.get(digest) ?? []), tag]);
    }
    // Children before the indexes that name them: a round stores every manifest whose children are
    // in (one batch, with its tags), until a round stores nothing more.
    const stored = new Set<string>();
    let pending = [...parsed.values()];
    for (;;) {
      const round = pending.filter((entry) => !entry.manifest.manifests.some((child) => parsed.has(child.digest) && !stored.has(child.digest)));
      const waiting = pending.filter((entry) => !round.includes(entry));
      const failed = await this.#putRound(repository, round, inRepository, tagsOf, present, stored);
      for (const { entry, missing, kind } of failed) {
        this.#refuse({ kind: 'manifest-references-missing', repository, digest: entry.digest, reason: `references ${kind} ${missing}, which the repository does not have` });
        for (const tag of tagsOf.get(entry.digest) ?? []) this.#refuse({ kind: 'dangling-tag', repository, tag, digest: entry.digest, reason: 'the tag names a manifest that was not imported (no revision, missing or refused)' });
      }
      if (waiting.length === 0 || round.length === 0) {
        for (const entry of waiting) {
          this.#refuse({ kind: 'manifest-references-missing', repository, digest: entry.digest, reason: 'an index whose children could not be imported' });
          for (const tag of tagsOf.get(entry.digest) ?? []) this.#refuse({ kind: 'dangling-tag', repository, tag, digest: entry.digest, reason: 'the tag names a manifest that was not imported (no revision, missing or refused)' });
        }
        break;
      }
      pending = waiting;
    }
  }

  /** Stores a round of manifests (those not in the repository yet) and their tags in one batch; what failed, by what it misses. */
  async #putRound(
    repository: RepositoryName,
    round: readonly Parsed[],
    inRepository: ReadonlySet<string>,
    tagsOf: ReadonlyMap<string, readonly string[]>,
    present: RepositoryContents,
    stored: Set<string>,
  ): Promise<{ entry: Parsed; missing: string; kind: 'blob' | 'manifest' }[]> {
    const puts: { entry: Parsed; tag: string | null; isNew: boolean }[] = [];
    for (const entry of round) {
      const isNew = !inRepository.has(entry.digest);
      const tags = tagsOf.get(entry.digest) ?? [];
      if (!isNew) this.#counts.manifestsPresent++;
      if (tags.length === 0) {
        if (isNew) puts.push({ entry, tag: null, isNew });
        else stored.add(entry.digest);
      }
      tags.forEach((tag, i) => puts.push({ entry, tag, isNew: isNew && i === 0 }));
    }
    const failed: { entry: Parsed; missing: string; kind: 'blob' | 'manifest' }[] = [];
    const results = this.#dryRun ? puts.map(({ entry }) => this.#wouldPut(entry, present, stored)) : await this.#journal.putManifests(puts.map(({ entry, tag }) => newManifest(repository, entry, tag)));
    for (const [i, { entry, tag, isNew }] of puts.entries()) {
      const result = await results[i];
      if (result === undefined) continue;
      if (!result.ok) {
        if (result.missing === undefined) throw new Error(`import: tag ${tag ?? ''} is immutable`);
        // A manifest's tag entries fail as it does: report it once.
        if (!failed.some((f) => f.entry === entry)) failed.push({ entry, missing: result.digest, kind: result.missing });
        continue;
      }
      stored.add(entry.digest);
      if (isNew) this.#counts.manifests++;
      if (tag !== null) this.#counts.tags++;
    }
    return failed;
  }

  /** A dry run's putManifest: whether the blobs would be linked and the children stored. */
  async #wouldPut(entry: Parsed, present: RepositoryContents, stored: ReadonlySet<string>): Promise<{ ok: true } | { ok: false; missing: 'blob' | 'manifest'; digest: string }> {
    const linked = new Set(present.blobs);
    for (const blob of entry.manifest.blobs) {
      if (!linked.has(blob.digest) && !(await this.#wouldHaveBlob(blob.digest))) return { ok: false, missing: 'blob', digest: blob.digest };
    }
    const children = new Set(present.manifests);
    for (const child of entry.manifest.manifests) {
      if (!children.has(child.digest) && !stored.has(child.digest)) return { ok: false, missing: 'manifest', digest: child.digest };
    }
    return { ok: true };
  }

  async #wouldHaveBlob(digest: string): Promise<boolean> {
    const outcome = await this.#blobs.get(digest);
    return outcome?.ok === true;
  }

  /** Tags the source removed (a later pass): removed here too, so that the last pass leaves the same tag list. */
  /** Removes the repository's manifests that are no longer among the source's revisions (with their tags), as a DELETE by digest does. */
  async #removeManifests(repository: RepositoryName, layout: LayoutRepository, present: RepositoryContents): Promise<void> {
    const revisions = new Set(layout.revisions);
    for (const digest of present.manifests) {
      if (revisions.has(digest)) continue;
      if (this.#dryRun || (await this.#metadata.deleteManifest(repository, digest))) this.#counts.manifestsRemoved++;
    }
  }

  async #removeTags(repository: RepositoryName, layout: LayoutRepository, present: RepositoryContents): Promise<void> {
    for (const tag of present.tags.keys()) {
      if (layout.tags.has(tag)) continue;
      if (!this.#dryRun) await this.#metadata.deleteTag(repository, tag);
      this.#counts.tagsRemoved++;
    }
  }
}

function newManifest(repository: RepositoryName, entry: Parsed, tag: string | null): NewManifest {
  return {
    repository,
    digest: entry.digest,
    mediaType: entry.manifest.mediaType,
    payload: entry.payload,
    artifactType: entry.manifest.artifactType ?? null,
    annotations: entry.manifest.annotations === undefined ? null : JSON.stringify(entry.manifest.annotations),
    subject: entry.manifest.subject?.digest ?? null,
    blobs: [...new Set(entry.manifest.blobs.map((blob) => blob.digest as string))],
    manifests: [...new Set(entry.manifest.manifests.map((child) => child.digest as string))],
    tag,
  };
}

function isSchema1(payload: Buffer): boolean {
  try {
    return (JSON.parse(payload.toString('utf8')) as { schemaVersion?: unknown }).schemaVersion === 1;
  } catch {
    return false;
  }
}

/** A journal entry's fingerprint: the quick one (may be absent) and the content one. */
function journalEntry(quick: string | undefined, content: string): string {
  return quick === undefined ? content : `${content} ${quick}`;
}

/** The parts of a journal entry's fingerprint (an entry of before the quick fingerprint is content only). */
function journalEntryOf(entry: string | undefined): { content: string; quick: string | undefined } | undefined {
  if (entry === undefined) return undefined;
  const [content = '', quick] = entry.split(' ');
  return { content, quick };
}

/** What the journal compares: the repository's links as the source holds them. */
export function fingerprintOf(layout: LayoutRepository): string {
  const hash = createHash('sha256');
  for (const digest of layout.layers) hash.update(`L ${digest}\n`);
  for (const digest of layout.revisions) hash.update(`R ${digest}\n`);
  for (const [tag, digest] of [...layout.tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(`T ${tag} ${digest ?? '-'}\n`);
  return hash.digest('hex');
}

async function hashStream(stream: NodeJS.ReadableStream, digest: Digest): Promise<{ digest: string; size: number }> {
  const hash = createDigester(digestAlgorithm(digest));
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `${digestAlgorithm(digest)}:${hash.digest('hex')}`, size };
}
