// The registry's services, composed over one metadata store and one storage driver.
import type { ProxyCacheStore } from '../metadata/proxy-cache.js';
import type { BrowseStore } from '../metadata/browse.js';
import type { GcRunStore } from '../metadata/gc-runs.js';
import type { UsageStore } from '../metadata/lifecycle.js';
import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import { BlobService } from './blob-service.js';
import { NamespaceTree } from './namespace-tree.js';
import { BrowseService, type GcTiming } from './browse-service.js';
import type { ChangeRecorder } from './changes.js';
import type { RetentionPolicyRule } from './retention-policy.js';
import { LifecyclePolicy, NO_LIFECYCLE_RULES, type LifecycleRules } from './lifecycle-policy.js';
import { ListingService, type ListingLimits } from './listing-service.js';
import { ManifestService } from './manifest-service.js';
import { type FillLeases, PullThrough, type PullThroughOptions } from './proxy-service.js';
import type { ProxyUpstreams } from './proxy-upstreams.js';
import { QuotaChecker } from './quota.js';
import { UploadService, type UploadObserver } from './upload-service.js';
import { PullTimes } from './proxy-pull-times.js';

export interface RegistryOptions {
  readonly deleteEnabled: boolean;
  readonly readOnly: boolean;
  readonly manifestMaxBytes: number;
  /** Whether a mount without `from` links a blob the registry already holds (spec: MAY). */
  readonly automaticMount: boolean;
  readonly listing: ListingLimits;
  /** Immutable tags and quotas (docs/lifecycle.md); none when absent. */
  readonly lifecycle?: LifecycleRules & { readonly retention?: readonly RetentionPolicyRule[] };
  /** The collector's schedule, as the UI explains when deleted bytes are reclaimed. */
  readonly gc?: GcTiming;
  /** Upstream registries that proxied repositories mirror (pull-through cache); none when absent. */
  readonly upstreams?: ProxyUpstreams;
  /**
   * Other processes serve the same metadata store (PostgreSQL; cluster workers): upload sessions keep
   * their running hash and writer in the store (UploadServiceOptions.shared).
   */
  readonly sharedUploads?: boolean;
  /** Other processes share the store: proxy fills of one blob are shared through its leases. */
  readonly proxyFills?: FillLeases;
  /** Where the upstreams' tag confirmations are kept for every process and the next start (the metadata store). */
  readonly proxyConfirmations?: PullThroughOptions['confirmations'];
  /** Hears of cache hits, misses and bytes (metrics). */
  readonly proxyObserver?: PullThroughOptions['observer'];
  /** Where the cache's manifest pull times go, for eviction (the metadata store); `onError` hears of failed writes. */
  readonly proxyPullTimes?: { readonly store: ProxyCacheStore; readonly onError: (error: unknown) => void };
  /** With sharedUploads on one machine's store: this start's id (UploadServiceOptions.boot). */
  readonly uploadBoot?: string;
  /** How long an upload writer's claim holds without renewal (UploadServiceOptions.claimMs; tests shorten it). */
  readonly uploadClaimMs?: number;
}

export class Registry {
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly listings: ListingService;
  readonly options: RegistryOptions;
  readonly metadata: MetadataStore;
  readonly storage: StorageDriver;
  readonly policy: LifecyclePolicy;
  /** Storage accounting, when the metadata store can count (GET /usage, berth usage, quotas). */
  readonly usage: UsageStore | undefined;
  /** The notification recorder, when endpoints are configured. */
  readonly events: ChangeRecorder | undefined;
  /** The web UI's view (/v2/_berth/browse), when the metadata store can browse. */
  readonly browse: BrowseService | undefined;
  /** The pull-through cache, when upstreams are configured. */
  readonly proxy: PullThrough | undefined;
  /** The web UI's namespace tree, with the browse API. */
  readonly namespaces: NamespaceTree | undefined;

  /** `usage` (the metadata store, when it can count) enables quotas; `observer` hears of uploaded bytes (metrics). */
  constructor(metadata: MetadataStore, storage: StorageDriver, options: RegistryOptions, usage?: UsageStore, observer?: UploadObserver, events?: ChangeRecorder, browse?: BrowseStore, gcRuns?: GcRunStore) {
    this.events = events;
    this.metadata = metadata;
    this.storage = storage;
    this.options = options;
    this.proxy =
      options.upstreams === undefined
        ? undefined
        : new PullThrough({
            upstreams: options.upstreams,
            metadata,
            storage,
            manifestMaxBytes: options.manifestMaxBytes,
            ...(options.proxyFills === undefined ? {} : { leases: options.proxyFills }),
            ...(options.proxyConfirmations === undefined ? {} : { confirmations: options.proxyConfirmations }),
            ...(options.proxyObserver === undefined ? {} : { observer: options.proxyObserver }),
            ...(events === undefined ? {} : { events }),
            ...(options.proxyPullTimes === undefined ? {} : { pullTimes: new PullTimes(options.proxyPullTimes.store, options.proxyPullTimes.onError) }),
          });
    this.blobs = new BlobService(metadata, storage, events, this.proxy);
    this.usage = usage;
    this.policy = new LifecyclePolicy(options.lifecycle ?? NO_LIFECYCLE_RULES);
    const quotas = usage !== undefined && this.policy.hasQuotas ? new QuotaChecker(usage, this.policy) : undefined;
    this.uploads = new UploadService(metadata, storage, quotas, undefined, observer, events, { shared: options.sharedUploads ?? false, boot: options.uploadBoot, ...(options.uploadClaimMs === undefined ? {} : { claimMs: options.uploadClaimMs }) });
    this.manifests = new ManifestService(metadata, this.policy, quotas, events, this.proxy);
    this.listings = new ListingService(metadata, options.listing, this.proxy);
    this.browse = browse === undefined ? undefined : new BrowseService(browse, metadata, this.policy, options.listing.maxPage, options.gc ?? { enabled: false, reviewDelayMs: 0, intervalMs: 0 }, gcRuns, options.lifecycle?.retention);
    this.namespaces = browse === undefined ? undefined : new NamespaceTree(browse, usage, options.listing.maxPage);
  }
}
