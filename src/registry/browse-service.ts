// The web UI's view of the registry (docs/api.md, /v2/_berth/browse): repositories found by name,
// tags with digest, size, push time, platforms and immutability, and what deleting a tag or a
// manifest removes and when its bytes can be reclaimed. Pages are O(page) (BrowseStore).
import type { BrowseStore, ManifestSummary, RepositorySummary, TagCursor, TagDetail } from '../metadata/browse.js';
import type { GcRunRow, GcRunStore } from '../metadata/gc-runs.js';
import type { MetadataStore } from '../metadata/store.js';
import type { Digest } from './digest.js';
import { manifestUnknown, nameUnknown, paginationInvalid } from './errors.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';
import type { PageResult } from './listing-service.js';
import { MediaType } from './media-types.js';
import type { RepositoryName } from './names.js';
import { RetentionPolicy, retentionDecision, type RetentionDecision, type RetentionPolicyRule } from './retention-policy.js';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly digest: string;
}

export interface TagView extends TagDetail {
  /** A lifecycle.immutable rule forbids moving and deleting it. */
  readonly immutable: boolean;
  /** For an index: the platforms of its children (entries without a platform are left out). */
  readonly platforms?: readonly Platform[];
  /** What lifecycle.retention will do to it; null when no retention rule applies to the repository. */
  readonly retention: RetentionStatus | null;
}

export interface RetentionStatus extends RetentionDecision {
  /**
   * When the server's collector will have deleted it at the latest, if nothing else changes: one
   * gc.interval after deletableAt; null when it is kept for good or the server runs no collector
   * (then only `berth gc` applies the policy).
   */
  readonly deleteBy: number | null;
}

export interface GcTiming {
  readonly enabled: boolean;
  /** gc.reviewdelay: how long a blob must have gone unreferenced before a run may delete it. */
  readonly reviewDelayMs: number;
  /** gc.interval: how often the server runs the collector. */
  readonly intervalMs: number;
}

export interface DeletionPlan {
  /** Tags that go with the deletion. */
  readonly tags: readonly string[];
  /** Tags that would refuse the deletion (lifecycle.immutable): it is refused while there are any. */
  readonly immutableTags: readonly string[];
  /** Whether the manifest leaves the repository (deleting a tag leaves it in place, untagged, when it was the last). */
  readonly manifestRemoved: boolean;
  /** Referrers (by artifactType) whose subject leaves the repository; they stay until deleted or a policy removes them. */
  readonly referrers: Readonly<Record<string, number>>;
  /** Indexes in the repository that still list it (they keep its blobs referenced). */
  readonly parents: readonly string[];
  /**
   * When unreferenced bytes can go: the first collector run at least reviewDelayMs after the last
   * reference disappears; null when the manifest stays referenced or the collector is off.
   */
  readonly reclaimableAfter: number | null;
  readonly gc: GcTiming;
}

export interface ManifestView extends ManifestSummary {
  readonly platforms?: readonly Platform[];
  readonly deleteManifest: DeletionPlan;
}

export interface TagPageRequest {
  readonly sort: 'name' | 'pushed';
  readonly n: number | undefined;
  readonly last: string | undefined;
}

export const BROWSE_DEFAULT_PAGE = 50;

/** Parses `sort` (name, pushed; default name). */
export function parseTagSort(value: string | null): 'name' | 'pushed' {
  if (value === null || value === 'name') return 'name';
  if (value === 'pushed') return 'pushed';
  throw paginationInvalid('sort must be name or pushed');
}

export class BrowseService {
  readonly #store: BrowseStore;
  readonly #metadata: MetadataStore;
  readonly #policy: LifecyclePolicy;
  readonly #maxPage: number;
  readonly #gc: GcTiming;

  /** The collector's schedule (the tag page says when retention deletes). */
  get gc(): GcTiming {
    return this.#gc;
  }
  readonly #gcRuns: GcRunStore | undefined;
  readonly #retention: RetentionPolicy;

  constructor(store: BrowseStore, metadata: MetadataStore, policy: LifecyclePolicy, maxPage: number, gc: GcTiming, gcRuns?: GcRunStore, retention: readonly RetentionPolicyRule[] = []) {
    this.#gcRuns = gcRuns;
    this.#retention = new RetentionPolicy(retention);
    this.#store = store;
    this.#metadata = metadata;
    this.#policy = policy;
    this.#maxPage = maxPage;
    this.#gc = gc;
  }

  #size(n: number | undefined): number {
    return Math.max(1, Math.min(n ?? BROWSE_DEFAULT_PAGE, this.#maxPage));
  }

  /** One page of repositories whose name contains `contains`; with `visible`, only those it accepts (pages stay full). */
  async repositories(contains: string, n: number | undefined, last: string | undefined, visible?: (name: string) => boolean): Promise<PageResult<RepositorySummary>> {
    const size = this.#size(n);
    const shown: RepositorySummary[] = [];
    let after = last;
    const batch = visible === undefined ? size + 1 : Math.max(size + 1, 100);
    for (;;) {
      const rows = await this.#store.searchRepositories({ contains, limit: batch, after });
      for (const row of rows) {
        if (visible !== undefined && !visible(row.name)) continue;
        shown.push(row);
        if (shown.length > size) {
          const items = shown.slice(0, size);
          return { items, next: items[items.length - 1]?.name };
        }
      }
      if (rows.length < batch) return { items: shown, next: undefined };
      after = rows[rows.length - 1]?.name;
    }
  }

  async repository(name: RepositoryName): Promise<RepositorySummary> {
    const summary = await this.#store.getRepositorySummary(name);
    if (summary === undefined) throw nameUnknown(name);
    return summary;
  }

  /** One page of tags; `last` is the previous page's `next` (a tag name, or `<pushedAt>:<name>` sorted by push time). */
  async tags(repository: RepositoryName, request: TagPageRequest): Promise<PageResult<TagView>> {
    const size = this.#size(request.n);
    const cursor = parseCursor(request.sort, request.last);
    const rows = await this.#store.listTagDetails(repository, cursor, size + 1);
    if (rows === undefined) throw nameUnknown(repository);
    const retained = await this.#retentionOf(repository);
    const items = await Promise.all(rows.slice(0, size).map((row) => this.#tagView(repository, row, retained)));
    const lastItem = items[items.length - 1];
    const next = rows.length > size && lastItem !== undefined ? (request.sort === 'name' ? lastItem.name : `${lastItem.pushedAt}:${lastItem.name}`) : undefined;
    return { items, next };
  }

  async #tagView(repository: RepositoryName, row: TagDetail, retained: ((row: TagDetail, immutable: boolean) => RetentionStatus) | undefined): Promise<TagView> {
    const immutable = this.#policy.hasImmutableTags && this.#policy.isImmutable(repository, row.name);
    const retention = retained === undefined ? null : retained(row, immutable);
    if (!isIndex(row.mediaType)) return { ...row, immutable, retention };
    return { ...row, immutable, retention, platforms: await this.#platforms(repository, row.digest) };
  }

  /**
   * How the retention rule of a repository decides a tag, or undefined when none applies. The rank
   * that keepnewest needs comes from the repository's keepnewest newest tags (one bounded read).
   */
  async #retentionOf(repository: RepositoryName): Promise<((row: TagDetail, immutable: boolean) => RetentionStatus) | undefined> {
    const rule = this.#retention.ruleFor(repository);
    if (rule === undefined) return undefined;
    const keepNewest = rule.rule.keepNewest ?? 0;
    const newest = keepNewest === 0 ? [] : ((await this.#store.listTagDetails(repository, { sort: 'pushed' }, keepNewest)) ?? []);
    const ranks = new Map(newest.map((tag, index) => [tag.name, index]));
    const now = Date.now();
    return (row, immutable) => {
      const decision = retentionDecision(rule, row, ranks.get(row.name) ?? keepNewest, immutable, now);
      const deleteBy = decision.deletableAt === null || !this.#gc.enabled ? null : decision.deletableAt + this.#gc.intervalMs;
      return { ...decision, deleteBy };
    };
  }

  async #platforms(repository: string, digest: string): Promise<Platform[]> {
    const manifest = await this.#metadata.getManifestByDigest(repository, digest);
    if (manifest === undefined) return [];
    return platformsOf(manifest.payload);
  }

  /** A manifest in the repository, with what deleting it would remove. */
  async manifest(repository: RepositoryName, digest: Digest): Promise<ManifestView> {
    const summary = await this.#store.getManifestSummary(repository, digest);
    if (summary === undefined) {
      if (!(await this.#metadata.hasRepository(repository))) throw nameUnknown(repository);
      throw manifestUnknown(digest);
    }
    const immutableTags = this.#policy.hasImmutableTags ? summary.tags.filter((tag) => this.#policy.isImmutable(repository, tag)) : [];
    const deleteManifest: DeletionPlan = {
      tags: summary.tags,
      immutableTags,
      manifestRemoved: true,
      referrers: summary.referrers,
      parents: summary.parents,
      reclaimableAfter: summary.parents.length > 0 ? null : this.#reclaimableAfter(),
      gc: this.#gc,
    };
    const view: ManifestView = { ...summary, deleteManifest };
    return isIndex(summary.mediaType) ? { ...view, platforms: await this.#platforms(repository, digest) } : view;
  }

  /** What deleting one tag removes: the tag; the manifest stays (untagged when it was its last tag). */
  async tagDeletion(repository: RepositoryName, tag: string): Promise<DeletionPlan & { readonly digest: string; readonly otherTags: readonly string[] }> {
    const manifest = await this.#metadata.getManifestByTag(repository, tag);
    if (manifest === undefined) {
      if (!(await this.#metadata.hasRepository(repository))) throw nameUnknown(repository);
      throw manifestUnknown(tag);
    }
    const tags = await this.#metadata.listTagsOfManifest(repository, manifest.digest);
    return {
      digest: manifest.digest,
      tags: [tag],
      otherTags: tags.filter((other) => other !== tag),
      immutableTags: this.#policy.hasImmutableTags && this.#policy.isImmutable(repository, tag) ? [tag] : [],
      manifestRemoved: false,
      referrers: {},
      parents: [],
      reclaimableAfter: null,
      gc: this.#gc,
    };
  }

  /** The collector's schedule and its newest runs (none recorded when the store keeps no history). */
  async gcRuns(n: number | undefined): Promise<{ gc: GcTiming; runs: GcRunRow[] }> {
    return { gc: this.#gc, runs: this.#gcRuns === undefined ? [] : await this.#gcRuns.listGcRuns(Math.max(1, Math.min(n ?? 20, 100))) };
  }

  #reclaimableAfter(): number | null {
    return this.#gc.enabled ? Date.now() + this.#gc.reviewDelayMs : null;
  }
}

function isIndex(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

function parseCursor(sort: 'name' | 'pushed', last: string | undefined): TagCursor {
  if (sort === 'name') return { sort, after: last };
  if (last === undefined) return { sort };
  const found = /^(\d{1,15}):(.+)$/.exec(last);
  if (found === null) throw paginationInvalid('last must be <pushedAt>:<tag> when sorted by push time');
  return { sort, after: { pushedAt: Number(found[1]), name: found[2] ?? '' } };
}

/** The platforms an index's entries declare (the payload was validated when it was pushed). */
export function platformsOf(payload: Buffer): Platform[] {
  const parsed = JSON.parse(payload.toString('utf8')) as { manifests?: { digest?: unknown; platform?: { os?: unknown; architecture?: unknown; variant?: unknown } }[] };
  const platforms: Platform[] = [];
  for (const entry of parsed.manifests ?? []) {
    const platform = entry.platform;
    if (typeof platform?.os !== 'string' || typeof platform.architecture !== 'string' || typeof entry.digest !== 'string') continue;
    platforms.push({ os: platform.os, architecture: platform.architecture, ...(typeof platform.variant === 'string' ? { variant: platform.variant } : {}), digest: entry.digest });
  }
  return platforms;
}
