// The pull-through cache (docs/proxy.md): manifests and blobs of a proxied repository that are not
// stored, or tags whose cached answer is older than the upstream's TTL, are asked of the upstream;
// what it sends is verified against its digest and stored through the same metadata store, so that
// the next pull is a local one. When the upstream is down or rate-limits, what is cached is served.
import type { Readable } from 'node:stream';
import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import { pullScope } from '../upstream/upstream-client.js';
import type { BlobInfo } from './blob-service.js';
import { digestAlgorithm, digestOf, type Digest } from './digest.js';
import { manifestTooLarge } from './errors.js';
import { MANIFEST_KINDS, parseManifest } from './manifest-kinds.js';
import type { RepositoryName, Tag } from './names.js';
import { BlobFill } from './proxy-blob-fill.js';
import { isUpstreamOutage, upstreamRefusal, UpstreamUnavailableError } from './proxy-errors.js';
import type { ProxiedRepository, ProxyUpstreams } from './proxy-upstreams.js';

export interface CachedManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly payload: Buffer;
}

/** Every manifest type the registry can store, so that the upstream converts nothing. */
const ACCEPT = [...MANIFEST_KINDS.keys()].join(', ');

/** A blob whose bytes are on their way from the upstream: `open` gives a client its stream. */
export interface ArrivingBlob {
  readonly size: number | undefined;
  open(): Readable;
}

export class PullThrough {
  readonly upstreams: ProxyUpstreams;
  readonly #metadata: MetadataStore;
  readonly #storage: StorageDriver;
  readonly #manifestMaxBytes: number;
  /** When each cached tag was last confirmed by its upstream (repository NUL tag → ms). */
  readonly #confirmed = new Map<string, number>();
  readonly #now: () => number;

  constructor(upstreams: ProxyUpstreams, metadata: MetadataStore, storage: StorageDriver, manifestMaxBytes: number, now: () => number = Date.now) {
    this.upstreams = upstreams;
    this.#metadata = metadata;
    this.#storage = storage;
    this.#manifestMaxBytes = manifestMaxBytes;
    this.#now = now;
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
      const confirmed = this.#confirmed.get(key);
      if (confirmed !== undefined && this.#now() - confirmed < proxied.upstream.config.ttlMs) return cached as CachedManifest;
      try {
        const current = await this.#headManifest(proxied, tag);
        if (current === cached.digest) {
          this.#confirmed.set(key, this.#now());
          return cached as CachedManifest;
        }
      } catch (error) {
        if (isUpstreamOutage(error)) return cached as CachedManifest;
        throw error;
      }
    }
    const fetched = await this.#getManifest(proxied, tag, undefined);
    await this.#store(repository, fetched, tag);
    this.#confirmed.set(key, this.#now());
    return fetched;
  }

  /** A manifest by digest that is not stored: fetched once, verified, stored. */
  async manifestByDigest(repository: RepositoryName, digest: Digest): Promise<CachedManifest | undefined> {
    const proxied = this.upstreams.resolve(repository);
    if (proxied === undefined) return undefined;
    const fetched = await this.#getManifest(proxied, digest, digest);
    await this.#store(repository, fetched, null);
    return fetched;
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
    const abort = new AbortController();
    const response = await this.#ask(proxied, 'GET', path, {}, abort.signal);
    if (response.status !== 200 || response.body === null) {
      await response.body?.cancel();
      throw upstreamRefusal(response.status, response.headers.get('retry-after'), { kind: 'blob', reference: digest });
    }
    const length = response.headers.get('content-length');
    const size = length === null || !/^\d+$/.test(length) ? undefined : Number(length);
    const fill = new BlobFill({ metadata: this.#metadata, storage: this.#storage, repository, digest }, response.body, size, abort);
    const tap = fill.tap();
    if (tap === undefined) throw new Error('a new fill refused its first tap');
    return { digest, size: size ?? -1, arriving: { size, open: () => tap } };
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
    });
    if (!result.ok) throw new Error(`storing the upstream's manifest ${manifest.digest} failed`);
  }
}
