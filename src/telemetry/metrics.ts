// What the rest of Berth reports to metrics. The HTTP layer, the registry's services, the garbage
// collector and the deliverer call this small interface; only src/telemetry/ knows prom-client.
// When metrics are off nothing implements it: callers hold `undefined` and skip the call.

/** Why access control refused a request (or the token endpoint a login). */
export type AuthRefusal = 'unauthenticated' | 'invalid_credentials' | 'denied' | 'rate_limited';

/** Called with the duration of one call and whether it failed. */
export type ActionObserver = (seconds: number, failed: boolean) => void;

export interface GcRunReport {
  readonly manifests: number;
  readonly blobs: number;
  readonly bytesReclaimed: number;
  readonly orphans: number;
  readonly orphanBytes: number;
  readonly durationMs: number;
}

/** Read when Prometheus scrapes: values that live in the metadata store. */
export interface ScrapeSources {
  gcQueueStats?(): Promise<{ readonly blobs: number; readonly manifests: number; readonly blobDeletionsInProgress: number }>;
  countUploads?(): Promise<number>;
  /** Outbox backlog per notification endpoint (events not yet delivered, age of the oldest). */
  notificationBacklog?(): Promise<ReadonlyArray<{ readonly endpoint: string; readonly pending: number; readonly oldestAgeSeconds: number }>>;
  /** 1 when /readyz would answer 200. */
  ready?(): Promise<boolean>;
}

export type DeliveryOutcome = { readonly status: number } | { readonly error: string };

/**
 * What the pull-through cache reports: per pull of a proxied repository whether it was served from
 * the cache (hit) or asked of the upstream (miss), and the bytes read from the upstream and sent to
 * clients. `upstream` is the upstream's configured URL (a handful per configuration).
 */
export interface ProxyMetrics {
  request(kind: 'blob' | 'manifest', upstream: string, hit: boolean): void;
  fromUpstream(kind: 'blob' | 'manifest', upstream: string, bytes: number): void;
  toClient(kind: 'blob' | 'manifest', upstream: string, bytes: number): void;
}

export interface Metrics {
  /** registry_proxy_*: hits, misses and bytes of the pull-through cache, by type and upstream. */
  readonly proxy: ProxyMetrics;
  requestStarted(): void;
  /** `handler` is the route's endpoint id (routes.ts), never a repository or digest. */
  requestFinished(handler: string, method: string | undefined, status: number, seconds: number): void;
  bytesPulled(kind: 'blob' | 'manifest', bytes: number): void;
  bytesPushed(bytes: number): void;
  authRefused(reason: AuthRefusal): void;
  /** An observer for one action of a storage driver or metadata store; callers keep it. */
  actionObserver(layer: 'storage' | 'metadata', backend: string, action: string): ActionObserver;
  gcFinished(report: GcRunReport): void;
  gcFailed(): void;
  /** An event was recorded for delivery (for each endpoint that will receive it). */
  notificationQueued(endpoint: string): void;
  /** One delivery attempt of an event to an endpoint. */
  notificationAttempt(endpoint: string, outcome: DeliveryOutcome, seconds: number): void;
  /** Pull events dropped before they reached the outbox (the in-memory batch was full). */
  pullEventsDropped(count: number): void;
  storageHealthCheck(ok: boolean): void;
  watch(sources: ScrapeSources): void;
  /** The exposition text and its content type. */
  render(): Promise<{ readonly contentType: string; readonly body: string }>;
}
