// The Metrics interface over prom-client: one Registry per App (never prom-client's global one),
// Node's process and event-loop metrics (prom-client's default metrics; the event-loop delay comes
// from perf_hooks.monitorEventLoopDelay), distribution's metric names where the concept is the
// same, and Berth's own under `berth_`. Labels are endpoint ids, methods, status classes, action
// names and endpoint names: bounded sets, never repositories, tags or digests.
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { ActionObserver, AuthRefusal, DeliveryOutcome, GcRunReport, Metrics, ProxyMetrics, ScrapeSources } from './metrics.js';
import type { MetricsSnapshot } from './aggregate.js';
import { ACTION_BUCKETS, DURATION_BUCKETS, LabelledCounter, LabelledHistogram, type CounterSeries, type HistogramSeries } from './series.js';

const METHODS = new Map(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((method) => [method, method.toLowerCase()]));
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The series one (handler, method) pair writes to: the duration histogram and a counter per status class. */
interface RouteSeries {
  readonly duration: HistogramSeries;
  readonly byClass: readonly CounterSeries[];
}

export interface PrometheusMetricsOptions {
  readonly version: string;
  /** Collect prom-client's process and Node.js metrics (default true; tests that build many Apps turn it off). */
  readonly defaultMetrics?: boolean;
  /** Several worker processes (http.workers): a scrape renders the sum over all of them. */
  readonly workers?: WorkerMetrics | undefined;
}

/** How a worker takes part in scrapes of every worker (src/cli/workers.ts). */
export interface WorkerMetrics {
  /** Answers the supervisor's requests for this worker's metrics with `snapshot`. */
  serve(snapshot: () => Promise<MetricsSnapshot>): void;
  /** The exposition summed over every worker. */
  render(): Promise<{ contentType: string; body: string }>;
}

export class PrometheusMetrics implements Metrics {
  readonly #registry = new Registry();
  readonly #requests = new LabelledCounter('registry_http_requests_total', 'Total number of HTTP requests made, by endpoint id (handler), method and status class (code).', ['handler', 'method', 'code']);
  readonly #durations = new LabelledHistogram('registry_http_request_duration_seconds', 'The HTTP request latencies in seconds, by endpoint id (handler) and method.', ['handler', 'method'], DURATION_BUCKETS);
  readonly #routes = new Map<string, Map<string, RouteSeries>>();
  #inFlight = 0;
  readonly #storageActions = new LabelledHistogram('registry_storage_action_seconds', 'The number of seconds that the storage action takes.', ['driver', 'action'], ACTION_BUCKETS);
  readonly #metadataActions = new LabelledHistogram('berth_metadata_action_seconds', 'The number of seconds that a metadata-store call takes.', ['store', 'action'], ACTION_BUCKETS);
  readonly #actionErrors = new LabelledCounter('berth_action_errors_total', 'Storage-driver and metadata-store calls that failed.', ['layer', 'backend', 'action']);
  readonly #pulled = new LabelledCounter('berth_pulled_bytes_total', 'Bytes of blobs and manifests served to clients (GET responses sent in full).', ['kind']);
  readonly #pulledBlob = this.#pulled.series('blob');
  readonly #pulledManifest = this.#pulled.series('manifest');
  readonly #pushedBytes = new LabelledCounter('berth_pushed_bytes_total', 'Bytes of upload bodies received and stored.', []);
  readonly #pushed = this.#pushedBytes.series();
  readonly #authRefusals: Counter<'reason'>;
  readonly #gcRuns: Counter<'result'>;
  readonly #gcCollected: Counter<'kind'>;
  readonly #gcReclaimed: Counter;
  readonly #gcLastRun: Gauge;
  readonly #notificationEvents: Counter<'type' | 'endpoint'>;
  readonly #notificationStatus: Counter<'code' | 'endpoint'>;
  readonly #notificationLatency = new LabelledHistogram('berth_notifications_delivery_seconds', 'Duration of notification POSTs, by endpoint.', ['endpoint'], DURATION_BUCKETS);
  readonly #pullEventsDropped: Counter;
  readonly #storageHealthFailures: Counter;
  #sources: ScrapeSources = {};
  readonly proxy: ProxyMetrics;
  readonly #workers: WorkerMetrics | undefined;

  constructor(options: PrometheusMetricsOptions) {
    const registry = this.#registry;
    this.#workers = options.workers;
    this.#workers?.serve(() => registry.getMetricsAsJSON());
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
    for (const metric of [this.#requests, this.#durations, this.#storageActions, this.#metadataActions, this.#actionErrors, this.#pulled, this.#pushedBytes, this.#notificationLatency]) {
      registry.registerMetric(metric as unknown as Metric);
    }
    const registers = [registry];
    const sources = (): ScrapeSources => this.#sources;
    const inFlight = (): number => this.#inFlight;
    new Gauge({ name: 'berth_build_info', help: 'Berth version (always 1).', labelNames: ['version'], registers, aggregator: 'first' }).set({ version: options.version }, 1);
    new Gauge({
      name: 'registry_http_in_flight_requests',
      help: 'The in-flight HTTP requests.',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.#authRefusals = new Counter({ name: 'berth_auth_refusals_total', help: 'Requests refused by access control: no credentials where some are needed (unauthenticated), wrong credentials or tokens (invalid_credentials), not allowed (denied), throttled after failed logins (rate_limited).', labelNames: ['reason'], registers });
    this.#gcRuns = new Counter({ name: 'berth_gc_runs_total', help: 'Garbage-collector runs, by result (ok, failed).', labelNames: ['result'], registers });
    this.#gcCollected = new Counter({ name: 'berth_gc_collected_total', help: 'What the garbage collector removed: manifest rows, blob rows, orphaned blob files.', labelNames: ['kind'], registers });
    this.#gcReclaimed = new Counter({ name: 'berth_gc_reclaimed_bytes_total', help: 'Bytes of blob files the garbage collector deleted (collected blobs and orphans).', registers });
    this.#gcLastRun = new Gauge({ name: 'berth_gc_last_success_timestamp_seconds', help: 'When the last garbage-collector run in this process (the latest of every worker) ended successfully (Unix time).', registers, aggregator: 'max' });
    new Gauge({
      name: 'berth_gc_queue_depth',
      // Read from the shared store: the same in every worker.
      aggregator: 'first',
      help: 'GC candidates waiting in the review queues (blobs, manifests) and byte deletions in progress (deletions).',
      labelNames: ['queue'],
      registers,
      async collect() {
        const stats = await sources().gcQueueStats?.();
        if (stats === undefined) return;
        this.set({ queue: 'blobs' }, stats.blobs);
        this.set({ queue: 'manifests' }, stats.manifests);
        this.set({ queue: 'deletions' }, stats.blobDeletionsInProgress);
      },
    });
    new Gauge({
      name: 'berth_uploads_in_progress',
      // Read from the shared store: the same in every worker.
      aggregator: 'first',
      help: 'Upload sessions started and neither completed, cancelled nor purged (all instances sharing the metadata store).',
      registers,
      async collect() {
        const count = await sources().countUploads?.();
        if (count !== undefined) this.set(count);
      },
    });
    new Gauge({
      name: 'berth_ready',
      aggregator: 'min',
      help: '1 when /readyz answers 200 (storage and metadata answer, migrations current, not draining), else 0.',
      registers,
      async collect() {
        const ready = await sources().ready?.();
        if (ready !== undefined) this.set(ready ? 1 : 0);
      },
    });
    this.#storageHealthFailures = new Counter({ name: 'berth_storage_health_check_failures_total', help: 'Failed periodic storage-driver health checks (health.storagedriver).', registers });
    this.#notificationEvents = new Counter({ name: 'registry_notifications_events_total', help: 'The number of total events, by type: Events (queued for the endpoint), Successes, Failures (the endpoint answered with an error status), Errors (no answer).', labelNames: ['type', 'endpoint'], registers });
    this.#notificationStatus = new Counter({ name: 'registry_notifications_status_total', help: 'The number of status code', labelNames: ['code', 'endpoint'], registers });
    new Gauge({
      name: 'registry_notifications_pending_total',
      // Read from the shared store: the same in every worker.
      aggregator: 'first',
      help: 'The gauge of pending events in queue: events in the outbox not yet delivered to the endpoint (all instances).',
      labelNames: ['endpoint'],
      registers,
      async collect() {
        const backlog = await sources().notificationBacklog?.();
        this.reset();
        for (const row of backlog ?? []) this.set({ endpoint: row.endpoint }, row.pending);
      },
    });
    new Gauge({
      name: 'berth_notifications_oldest_pending_age_seconds',
      // Read from the shared store: the same in every worker.
      aggregator: 'first',
      help: 'Age of the oldest event not yet delivered to the endpoint (0 when none).',
      labelNames: ['endpoint'],
      registers,
      async collect() {
        const backlog = await sources().notificationBacklog?.();
        this.reset();
        for (const row of backlog ?? []) this.set({ endpoint: row.endpoint }, row.oldestAgeSeconds);
      },
    });
    // distribution's registry_proxy_* names and `type` label; `upstream` (the configured URL) is Berth's.
    const proxyCounter = (name: string, help: string): Counter<'type' | 'upstream'> => new Counter({ name: `registry_proxy_${name}`, help, labelNames: ['type', 'upstream'], registers });
    const proxyRequests = proxyCounter('requests_total', 'Pulls (GET of a blob; GET or HEAD of a manifest) of proxied repositories, by type (blob, manifest) and upstream.');
    const proxyHits = proxyCounter('hits_total', 'Proxied pulls served from the cache without reading bytes from the upstream (a tag may have been revalidated with a HEAD).');
    const proxyMisses = proxyCounter('misses_total', 'Proxied pulls that read the manifest or blob from the upstream (a blob pull that joins a fill in progress counts as a hit).');
    const proxyPulled = proxyCounter('pulled_bytes_total', 'Bytes read from upstreams (manifest bodies and blob fills, verified or not).');
    const proxyPushed = proxyCounter('pushed_bytes_total', 'Bytes of proxied repositories sent to clients (GET responses sent in full).');
    this.proxy = {
      request(type, upstream, hit) {
        proxyRequests.inc({ type, upstream });
        (hit ? proxyHits : proxyMisses).inc({ type, upstream });
      },
      fromUpstream(type, upstream, bytes) {
        proxyPulled.inc({ type, upstream }, bytes);
      },
      toClient(type, upstream, bytes) {
        proxyPushed.inc({ type, upstream }, bytes);
      },
    };
    this.#pullEventsDropped = new Counter({ name: 'berth_notifications_pull_events_dropped_total', help: 'Pull events dropped because their in-memory batch was full (the outbox could not keep up).', registers });
  }

  requestStarted(): void {
    this.#inFlight++;
  }

  requestFinished(handler: string, method: string | undefined, status: number, seconds: number): void {
    this.#inFlight--;
    let byMethod = this.#routes.get(handler);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#routes.set(handler, byMethod);
    }
    let series = byMethod.get(method ?? '');
    if (series === undefined) {
      const label = METHODS.get(method ?? '') ?? 'other';
      series = {
        duration: this.#durations.series(handler, label),
        byClass: STATUS_CLASSES.map((code) => this.#requests.series(handler, label, code)),
      };
      byMethod.set(method ?? '', series);
    }
    series.duration.observe(seconds);
    const index = Math.floor(status / 100) - 1;
    series.byClass[index >= 0 && index < 5 ? index : 4]?.inc();
  }

  bytesPulled(kind: 'blob' | 'manifest', bytes: number): void {
    (kind === 'blob' ? this.#pulledBlob : this.#pulledManifest).inc(bytes);
  }

  bytesPushed(bytes: number): void {
    this.#pushed.inc(bytes);
  }

  authRefused(reason: AuthRefusal): void {
    this.#authRefusals.inc({ reason });
  }

  actionObserver(layer: 'storage' | 'metadata', backend: string, action: string): ActionObserver {
    // Series appear on first use: a method never called adds nothing to the exposition.
    let series: HistogramSeries | undefined;
    return (seconds, failed) => {
      series ??= (layer === 'storage' ? this.#storageActions : this.#metadataActions).series(backend, action);
      series.observe(seconds);
      if (failed) this.#actionErrors.series(layer, backend, action).inc();
    };
  }

  gcFinished(report: GcRunReport): void {
    this.#gcRuns.inc({ result: 'ok' });
    this.#gcCollected.inc({ kind: 'manifests' }, report.manifests);
    this.#gcCollected.inc({ kind: 'blobs' }, report.blobs);
    this.#gcCollected.inc({ kind: 'orphans' }, report.orphans);
    this.#gcReclaimed.inc(report.bytesReclaimed + report.orphanBytes);
    this.#gcLastRun.set(Date.now() / 1000);
  }

  gcFailed(): void {
    this.#gcRuns.inc({ result: 'failed' });
  }

  notificationQueued(endpoint: string): void {
    this.#notificationEvents.inc({ type: 'Events', endpoint });
  }

  notificationAttempt(endpoint: string, outcome: DeliveryOutcome, seconds: number): void {
    this.#notificationLatency.series(endpoint).observe(seconds);
    if ('error' in outcome) {
      this.#notificationEvents.inc({ type: 'Errors', endpoint });
      return;
    }
    this.#notificationStatus.inc({ code: String(outcome.status), endpoint });
    this.#notificationEvents.inc({ type: outcome.status >= 200 && outcome.status < 400 ? 'Successes' : 'Failures', endpoint });
  }

  pullEventsDropped(count: number): void {
    this.#pullEventsDropped.inc(count);
  }

  storageHealthCheck(ok: boolean): void {
    if (!ok) this.#storageHealthFailures.inc();
  }

  watch(sources: ScrapeSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  async render(): Promise<{ contentType: string; body: string }> {
    if (this.#workers !== undefined) return this.#workers.render();
    return { contentType: this.#registry.contentType, body: await this.#registry.metrics() };
  }
}
