// The pull-through cache (docs/proxy.md): manifests and blobs of a proxied repository that are not
// stored, or tags whose cached answer is older than the upstream's TTL, are asked of the upstream;
// what it sends is verified against its digest and stored through the same metadata store, so that
// the next pull is a local one. When the upstream is down or rate-limits, what is cached is served.
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { SharedStateStore } from '../metadata/shared-state.js';
import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import type { ProxyMetrics } from '../telemetry/metrics.js';
import { pullScope } from '../upstream/upstream-client.js';
import type { BlobInfo } from './blob-service.js';
import type { ChangeRecorder } from './changes.js';
import { digestAlgorithm, digestOf, type Digest } from './digest.js';
import { manifestTooLarge } from './errors.js';
import { MANIFEST_KINDS, parseManifest } from './manifest-kinds.js';
import { MediaType } from './media-types.js';
import { isTag, type RepositoryName, type Tag } from './names.js';
import { BlobFill } from './proxy-blob-fill.js';
import type { PullTimes } from './proxy-pull-times.js';
import { isUpstreamOutage, upstreamRefusal, UpstreamUnavailableError } from './proxy-errors.js';
import type { ProxiedRepository, ProxyUpstreams } from './proxy-upstreams.js';

export interface CachedManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly payload: Buffer;
}

/** Every manifest type the registry can store, so that the upstream converts nothing. */
const ACCEPT = [...MANIFEST_KINDS.keys()].join(', ');

/**
 * Fills across processes (cluster workers, PostgreSQL instances): a lease per blob in the shared
 * store, so that one upstream GET serves them all. The holder renews it while its fill runs; a holder
 * killed mid-fill loses it after FILL_LEASE_MS, and a waiting process takes over.
 */
export interface FillLeases {
  readonly store: SharedStateStore;
  /** This process (unique per start). */
  readonly holder: string;
}
const FILL_LEASE_MS = 15_000;
/** Referrers of one subject brought from an upstream at most (a larger list is cut, the rest stays upstream). */
const MAX_REFERRERS = 256;
/** Subjects whose referrer sync time is remembered at most (beyond, the memory is started afresh). */
const MAX_SYNCED = 10_000;
/** How often a process whose blob another one is fetching looks whether it is stored yet. */
const FILL_POLL_MS = 100;

/** A blob fill of this process, or the blob as another process stored it while this one waited. */
type FillOutcome = { readonly fill: BlobFill } | { readonly stored: BlobInfo };

export interface PullThroughOptions {
  readonly upstreams: ProxyUpstreams;
  readonly metadata: MetadataStore;
  readonly storage: StorageDriver;
  readonly manifestMaxBytes: number;
  /** When other processes serve the same store: then they share fills too. */
  readonly leases?: FillLeases;
  /** Where the upstreams' tag confirmations are kept for every process and the next start. */
  readonly confirmations?: Pick<SharedStateStore, 'confirmUpstreamTag' | 'upstreamTagConfirmation'>;
  /** Hears of hits, misses and bytes (metrics), labelled by the upstream's configured URL. */
  readonly observer?: ProxyMetrics;
  /** Where fills are reported: a push event (actor `berth:proxy`) in the same transaction as the cached manifest or blob. */
  readonly events?: ChangeRecorder;
  /** Where the cache's manifest pulls are gathered for eviction (least recently pulled first). */
  readonly pullTimes?: PullTimes;
  readonly now?: () => number;
}

/** A blob whose bytes are on their way from the upstream: `open` gives a client its stream. */
export interface ArrivingBlob {
  open(): Readable;
  /** Settles once the blob is verified and stored (then it is served as any stored blob), or the fill failed. */
  stored(): Promise<void>;
}

export class PullThrough {
  readonly upstreams: ProxyUpstreams;
  /** Blob fills started (one upstream GET each). */
  fillsStarted = 0;
  readonly #metadata: MetadataStore;
  readonly #storage: StorageDriver;
  readonly #manifestMaxBytes: number;
  /**
   * When each cached tag was last confirmed by its upstream (repository NUL tag → ms), in this
   * process; the shared `#confirmations` are asked when this says nothing fresh.
   */
  readonly #confirmed = new Map<string, number>();
  /** When each (repository, subject)'s referrers were last brought from the upstream. */
  readonly #referrersSynced = new Map<string, number>();
  readonly #confirmations: PullThroughOptions['confirmations'];
  readonly #now: () => number;
  /** Fills in progress, per repository and digest: concurrent pulls of a cold blob share one. */
  readonly #fills = new Map<string, Promise<FillOutcome>>();
  readonly #leases: FillLeases | undefined;
  readonly #observer: ProxyMetrics | undefined;
  readonly #events: ChangeRecorder | undefined;
  readonly #pullTimes: PullTimes | undefined;

  constructor(options: PullThroughOptions) {
    this.upstreams = options.upstreams;
    this.#observer = options.observer;
    this.#events = options.events;
    this.#pullTimes = options.pullTimes;
    this.#leases = options.leases;
    this.#confirmations = options.confirmations;
    this.#metadata = options.metadata;
    this.#storage = options.storage;
    this.#manifestMaxBytes = options.manifestMaxBytes;
    this.#now = options.now ?? Date.now;
  }

  /** Whether `repository` mirrors an upstream (pushes into it are refused). */
  covers(repository: string): boolean {
    return this.upstreams.resolve(repository) !== undefined;
  }

  /** The manifest by tag: the cached one while fresh (or while the upstream cannot be asked), else the upstream's. */
  async manifestByTag(repository: RepositoryName, tag: Tag): Promise<CachedManifest | undefined> {
    const proxied = this.upstreams.resolve(repository);
    if (proxied === undefined) return undefined;
    const cached = await this.#metadata.getManifestByTag(repository, tag);
    const key = `${repository}\0${tag}`;
    if (cached !== undefined) {
      const ttlMs = proxied.upstream.config.ttlMs;
      const confirmed = this.#confirmed.get(key);
      if (confirmed !== undefined && this.#now() - confirmed < ttlMs) return this.#hit(proxied, repository, cached as CachedManifest);
      // Another process (or this one before a restart) may have confirmed it within the TTL.
      const shared = ttlMs > 0 ? await this.#confirmations?.upstreamTagConfirmation(repository, tag) : undefined;
      if (shared !== undefined && shared.digest === cached.digest && this.#now() - shared.at < ttlMs) {
        this.#confirmed.set(key, shared.at);
        return this.#hit(proxied, repository, cached as CachedManifest);
      }
      try {
        const current = await this.#headManifest(proxied, tag);
        if (current === cached.digest) {
          await this.#confirm(repository, tag, cached.digest);
          return this.#hit(proxied, repository, cached as CachedManifest);
        }
      } catch (error) {
        if (isUpstreamOutage(error)) return this.#hit(proxied, repository, cached as CachedManifest);
        throw error;
      }
    }
    this.#observer?.request('manifest', proxied.upstream.config.url, false);
    const fetched = await this.#getManifest(proxied, tag, undefined);
    await this.#store(repository, fetched, tag);
    await this.#confirm(repository, tag, fetched.digest);
    return fetched;
  }

  /** The upstream names `digest` for the tag now: fresh for a TTL, here and in the shared store. */
  async #confirm(repository: RepositoryName, tag: Tag, digest: string): Promise<void> {
    const now = this.#now();
    this.#confirmed.set(`${repository}\0${tag}`, now);
    // Losing the record costs one more HEAD later, never a wrong answer: not worth failing the pull.
    await this.#confirmations?.confirmUpstreamTag(repository, tag, digest, now).catch(() => undefined);
  }

  /** A manifest by digest: the stored one (a digest is immutable), else fetched once, verified, stored. */
  async manifestByDigest(repository: RepositoryName, digest: Digest): Promise<CachedManifest | undefined> {
    const proxied = this.upstreams.resolve(repository);
    if (proxied === undefined) return undefined;
    const stored = await this.#metadata.getManifestByDigest(repository, digest);
    if (stored !== undefined) return this.#hit(proxied, repository, { digest: stored.digest as Digest, mediaType: stored.mediaType, payload: stored.payload });
    return this.#observedFetch(proxied, repository, digest);
  }

  /** A manifest by digest from the upstream (a miss): fetched, verified against the digest, stored untagged. */
  async #observedFetch(proxied: ProxiedRepository, repository: RepositoryName, digest: Digest): Promise<CachedManifest> {
    this.#observer?.request('manifest', proxied.upstream.config.url, false);
    const fetched = await this.#getManifest(proxied, digest, digest);
    await this.#store(repository, fetched, null);
    return fetched;
  }

  #hit(proxied: ProxiedRepository, repository: RepositoryName, manifest: CachedManifest): CachedManifest {
    this.#observer?.request('manifest', proxied.upstream.config.url, true);
    this.#pullTimes?.pulled(repository, manifest.digest, this.#now());
    return manifest;
  }

  /** Writes the pull times gathered so far (before the collector evicts, and at shutdown). */
  flushPullTimes(): Promise<void> {
    return this.#pullTimes?.flush() ?? Promise.resolve();
  }

  /**
   * One page of the upstream's tags of a proxied repository (`size` at most, after `last`), as
   * distribution's proxy lists them; undefined when the repository is not proxied or the upstream
   * gives no usable answer (down, refusing, or not knowing the name): the cache's tags are listed then.
   */
  async tags(repository: RepositoryName, size: number, last: string | undefined): Promise<{ readonly items: string[]; readonly next: string | undefined } | undefined> {
    const proxied = this.upstreams.resolve(repository);
    if (proxied === undefined) return undefined;
    const query = new URLSearchParams({ n: String(size), ...(last === undefined ? {} : { last }) });
    let body: unknown;
    let link: string | null;
    try {
      const response = await this.#ask(proxied, 'GET', `/v2/${proxied.remoteName}/tags/list?${query.toString()}`, { accept: 'application/json' });
      if (response.status !== 200) {
        await response.body?.cancel();
        return undefined;
      }
      link = response.headers.get('link');
      body = await response.json();
    } catch {
      return undefined;
    }
    const tags = (body as { tags?: unknown } | null)?.tags;
    if (tags !== null && !Array.isArray(tags)) return undefined;
    // Upstreams that ignore `n` and `last` (distribution 2.8 does) send every tag: page them here.
    const valid = (tags ?? [])
      .filter((tag): tag is string => typeof tag === 'string' && isTag(tag) && (last === undefined || tag > last))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const items = valid.slice(0, size);
    if (valid.length > size) return { items, next: items[items.length - 1] };
    const next = link === null ? undefined : /[?&]last=([^&>]*)/.exec(link)?.[1];
    return { items, next: next === undefined ? undefined : decodeURIComponent(next) };
  }

  /**
   * Brings the upstream's referrers of `subject` into the cache, at most once per TTL: every
   * referrer manifest the upstream lists (up to MAX_REFERRERS) that is not cached yet is fetched
   * by digest, verified and stored, so that the referrers index, served from the metadata store as
   * for any repository, holds them. An upstream without the referrers API (distribution 2.8 answers
   * 404), down or refusing leaves the cached referrers as they are; so does a referrer it dropped.
   */
  async syncReferrers(repository: RepositoryName, subject: Digest): Promise<void> {
    const proxied = this.upstreams.resolve(repository);
    if (proxied === undefined) return;
    const key = `${repository}\0${subject}`;
    const synced = this.#referrersSynced.get(key);
    if (synced !== undefined && this.#now() - synced < proxied.upstream.config.ttlMs) return;
    let listed: unknown;
    try {
      const response = await this.#ask(proxied, 'GET', `/v2/${proxied.remoteName}/referrers/${subject}`, { accept: MediaType.ociIndex });
      if (response.status !== 200) {
        await response.body?.cancel();
        if (response.status === 404) this.#referrersWereSynced(key);
        return;
      }
      listed = await response.json();
    } catch {
      return; // the cached referrers are served
    }
    const manifests = (listed as { manifests?: unknown } | null)?.manifests;
    if (!Array.isArray(manifests)) return;
    const digests = manifests
      .map((descriptor) => (descriptor as { digest?: unknown } | null)?.digest)
      .filter((digest): digest is Digest => typeof digest === 'string' && /^sha(256|512):[0-9a-f]+$/.test(digest))
      .slice(0, MAX_REFERRERS);
    for (const digest of digests) {
      if ((await this.#metadata.getManifestByDigest(repository, digest)) !== undefined) continue;
      try {
        await this.#observedFetch(proxied, repository, digest);
      } catch (error) {
        if (isUpstreamOutage(error)) return; // what is cached is served; the next listing tries again
        // One the registry cannot store (too large, not a manifest): listed by nobody, the rest still come.
      }
    }
    this.#referrersWereSynced(key);
  }

  #referrersWereSynced(key: string): void {
    if (this.#referrersSynced.size >= MAX_SYNCED) this.#referrersSynced.clear();
    this.#referrersSynced.set(key, this.#now());
  }

  /** A GET of a blob that the repository has: a cache hit when the repository is proxied. */
  blobServedFromCache(repository: RepositoryName): void {
    const upstream = this.#observedUpstream(repository);
    if (upstream !== undefined) this.#observer?.request('blob', upstream, true);
  }

  /** Bytes of a proxied repository sent to a client in full (metrics). */
  sent(repository: RepositoryName, kind: 'blob' | 'manifest', bytes: number): void {
    const upstream = this.#observedUpstream(repository);
    if (upstream !== undefined) this.#observer?.toClient(kind, upstream, bytes);
  }

  /** The URL of the upstream `repository` mirrors, when something observes the cache; else undefined. */
  #observedUpstream(repository: RepositoryName): string | undefined {
    return this.#observer === undefined ? undefined : this.upstreams.resolve(repository)?.upstream.config.url;
  }

  /**
   * A blob that is not stored in the repository: for HEAD, what the upstream says of it; for GET, a
   * fill from the upstream whose bytes the client gets as they arrive. Undefined when not proxied.
   */
  async blob(repository: RepositoryName, digest: Digest, head: boolean): Promise<(BlobInfo & { readonly arriving?: ArrivingBlob }) | undefined> {
    const proxied = this.upstreams.resolve(repository);
    if (proxied === undefined) return undefined;
    const path = `/v2/${proxied.remoteName}/blobs/${digest}`;
    if (head) {
      const response = await this.#ask(proxied, 'HEAD', path, {});
      await response.body?.cancel();
      if (response.status !== 200) throw upstreamRefusal(response.status, response.headers.get('retry-after'), { kind: 'blob', reference: digest });
      const size = Number(response.headers.get('content-length'));
      if (!Number.isSafeInteger(size)) throw new UpstreamUnavailableError(`HEAD ${path} answered without a Content-Length`);
      return { digest, size };
    }
    const key = `${repository}@${digest}`;
    let fill = this.#fills.get(key);
    const joined = fill !== undefined;
    if (fill === undefined) {
      fill = this.#fillOnce(proxied, repository, digest, path);
      this.#fills.set(key, fill);
      const forget = (): void => {
        this.#fills.delete(key);
      };
      fill.then((outcome) => ('fill' in outcome ? outcome.fill.done.then(forget, forget) : forget()), forget);
    }
    // Every pull that awaits the same start is tapped before the first byte is read.
    const outcome = await fill;
    // A pull that joined a fill in progress (or found the blob another process stored) reads no upstream bytes of its own.
    this.#observer?.request('blob', proxied.upstream.config.url, joined || 'stored' in outcome);
    if ('stored' in outcome) return outcome.stored;
    const started = outcome.fill;
    return { digest, size: started.size ?? -1, arriving: { open: () => started.tap(), stored: () => started.done } };
  }

  /**
   * This process's fill of the blob; with leases, only once the lease is held, else waiting (reading
   * nothing from the upstream) until the holder has stored the blob or given the lease up.
   */
  async #fillOnce(proxied: ProxiedRepository, repository: RepositoryName, digest: Digest, path: string): Promise<FillOutcome> {
    const leases = this.#leases;
    if (leases === undefined) return { fill: await this.#startFill(proxied, repository, digest, path) };
    const name = `proxy-fill ${repository}@${digest}`;
    while (!(await leases.store.claimWorkLease(name, leases.holder, this.#now(), FILL_LEASE_MS))) {
      await delay(FILL_POLL_MS);
      const stored = await this.#stored(repository, digest);
      if (stored !== undefined) return { stored };
    }
    const release = (): Promise<void> => leases.store.releaseWorkLease(name, leases.holder).catch(() => undefined);
    try {
      // The holder before this one may have stored it between this process's miss and its claim.
      const stored = await this.#stored(repository, digest);
      if (stored !== undefined) {
        await release();
        return { stored };
      }
      const fill = await this.#startFill(proxied, repository, digest, path);
      const renew = setInterval(() => void leases.store.claimWorkLease(name, leases.holder, this.#now(), FILL_LEASE_MS).catch(() => undefined), FILL_LEASE_MS / 3);
      renew.unref();
      // Released once the blob is committed (waiters then find it stored) or the fill failed (one of them fetches).
      const settle = (): void => {
        clearInterval(renew);
        void release();
      };
      fill.done.then(settle, settle);
      return { fill };
    } catch (error) {
      await release();
      throw error;
    }
  }

  async #stored(repository: RepositoryName, digest: Digest): Promise<BlobInfo | undefined> {
    const row = await this.#metadata.getRepositoryBlob(repository, digest);
    return row === undefined ? undefined : { digest, size: row.size };
  }

  /** One upstream GET of the blob; the fill runs on whether or not its clients stay. */
  async #startFill(proxied: ProxiedRepository, repository: RepositoryName, digest: Digest, path: string): Promise<BlobFill> {
    const abort = new AbortController();
    this.fillsStarted += 1;
    const response = await this.#ask(proxied, 'GET', path, {}, abort.signal);
    if (response.status !== 200 || response.body === null) {
      await response.body?.cancel();
      throw upstreamRefusal(response.status, response.headers.get('retry-after'), { kind: 'blob', reference: digest });
    }
    const length = response.headers.get('content-length');
    const size = length === null || !/^\d+$/.test(length) ? undefined : Number(length);
    const observer = this.#observer;
    const url = proxied.upstream.config.url;
    const fromUpstream = observer === undefined ? undefined : (bytes: number): void => observer.fromUpstream('blob', url, bytes);
    return new BlobFill({ metadata: this.#metadata, storage: this.#storage, repository, digest, events: this.#events }, response.body, size, abort, fromUpstream);
  }

  async #ask(proxied: ProxiedRepository, method: string, path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    try {
      return await proxied.upstream.client.request(method, path, pullScope(proxied.remoteName), headers, signal);
    } catch (error) {
      throw new UpstreamUnavailableError(`${method} ${proxied.upstream.config.url}${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The digest the upstream's tag names now (HEAD, which Docker Hub does not count as a pull). */
  async #headManifest(proxied: ProxiedRepository, tag: string): Promise<string | undefined> {
    const response = await this.#ask(proxied, 'HEAD', `/v2/${proxied.remoteName}/manifests/${tag}`, { accept: ACCEPT });
    await response.body?.cancel();
    if (response.status !== 200) throw upstreamRefusal(response.status, response.headers.get('retry-after'), { kind: 'manifest', reference: tag });
    return response.headers.get('docker-content-digest') ?? undefined;
  }

  async #getManifest(proxied: ProxiedRepository, reference: string, digest: Digest | undefined): Promise<CachedManifest> {
    const path = `/v2/${proxied.remoteName}/manifests/${reference}`;
    const response = await this.#ask(proxied, 'GET', path, { accept: ACCEPT });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw upstreamRefusal(response.status, response.headers.get('retry-after'), { kind: 'manifest', reference });
    }
    const declared = Number(response.headers.get('content-length'));
    if (declared > this.#manifestMaxBytes) {
      await response.body?.cancel();
      throw manifestTooLarge(this.#manifestMaxBytes);
    }
    let payload: Buffer;
    try {
      payload = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      throw new UpstreamUnavailableError(`reading ${path}: ${(error as Error).message}`, { cause: error });
    }
    this.#observer?.fromUpstream('manifest', proxied.upstream.config.url, payload.length);
    if (payload.length > this.#manifestMaxBytes) throw manifestTooLarge(this.#manifestMaxBytes);
    const header = response.headers.get('docker-content-digest');
    const expected = digest ?? (header !== null && /^sha(256|512):/.test(header) ? (header as Digest) : undefined);
    const actual = digestOf(payload, expected === undefined ? 'sha256' : digestAlgorithm(expected));
    if (expected !== undefined && actual !== expected) throw new UpstreamUnavailableError(`the upstream's manifest ${reference} hashes to ${actual}, not ${expected}`);
    const contentType = response.headers.get('content-type')?.split(';')[0]?.trim();
    let mediaType: string;
    try {
      mediaType = parseManifest(payload, contentType).mediaType;
    } catch (error) {
      throw new UpstreamUnavailableError(`the upstream's manifest ${reference} is not one the registry can store: ${(error as Error).message}`, { cause: error });
    }
    return { digest: actual, mediaType, payload };
  }

  async #store(repository: RepositoryName, manifest: CachedManifest, tag: string | null): Promise<void> {
    const parsed = parseManifest(manifest.payload, manifest.mediaType);
    const events = this.#events === undefined ? undefined : [this.#events.event({ action: 'push', kind: 'manifest', repository, digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.payload.length, tag: tag ?? undefined }, 'proxy')];
    const result = await this.#metadata.putManifest({
      repository,
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      payload: manifest.payload,
      artifactType: parsed.artifactType ?? null,
      annotations: parsed.annotations === undefined ? null : JSON.stringify(parsed.annotations),
      subject: parsed.subject?.digest ?? null,
      blobs: [...new Set(parsed.blobs.map((blob) => blob.digest))],
      manifests: [...new Set(parsed.manifests.map((child) => child.digest))],
      tag,
      fromUpstream: true,
    }, events);
    if (!result.ok) throw new Error(`storing the upstream's manifest ${manifest.digest} failed`);
  }
}
