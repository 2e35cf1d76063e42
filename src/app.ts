// The composition root: createApp(config) builds the storage driver, the metadata store, the
// registry services, access control and the HTTP(S) server; close() drains and releases them.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createAccess } from './auth/create-access.js';
import type { Config } from './config/config.js';
import { Notifications } from './events/notifications.js';
import { evictionRules } from './gc/cache-eviction.js';
import { collectGarbage, gcRunOf, scheduleCollection, type CollectOptions, type CollectReport } from './gc/collector.js';
import { purgeUploads, schedulePurging } from './gc/upload-purger.js';
import { createDebugListener } from './http/debug-server.js';
import { createDispatcher } from './http/dispatch.js';
import { Readiness } from './http/readiness.js';
import { UiFiles } from './http/ui.js';
import { postgresOptions } from './metadata/postgres/connection.js';
import { PostgresStore } from './metadata/postgres/postgres-store.js';
import type { SharedStateStore } from './metadata/shared-state.js';
import { SqliteStore } from './metadata/sqlite/sqlite-store.js';
import { Registry } from './registry/registry.js';
import { ProxyUpstreams } from './registry/proxy-upstreams.js';
import type { StorageDriver } from './storage/driver.js';
import { FilesystemDriver } from './storage/filesystem/filesystem-driver.js';
import { MemoryDriver } from './storage/memory/memory-driver.js';
import { createS3Client, endpointUrl } from './storage/s3/s3-client.js';
import { S3Driver } from './storage/s3/s3-driver.js';
import { instrument, probes, timingProbe } from './telemetry/instrument.js';
import type { Metrics } from './telemetry/metrics.js';
import { PrometheusMetrics, type WorkerMetrics } from './telemetry/prometheus-metrics.js';
import type { Tracing } from './telemetry/tracing.js';
import type { SystemActor } from './registry/changes.js';

/** Berth's version, for berth_build_info and the OpenTelemetry resource. */
export const VERSION = '0.1.0';

/** What a worker gets from the supervisor when several processes serve one port (http.workers). */
export interface WorkerSharing {
  /** The token signing key (PKCS#8 PEM) the supervisor loaded or generated, so that every worker signs with it. */
  readonly signingKeyPem?: string | undefined;
  /** The supervisor's start (a random id), the same in every worker it forks (UploadServiceOptions.boot). */
  readonly boot?: string | undefined;
  /** Scrapes that sum every worker's metrics. */
  readonly metrics?: WorkerMetrics | undefined;
}

export interface AppOptions {
  /** Collect prom-client's process metrics (default true; a process holding many Apps, like a test, may turn them off). */
  readonly processMetrics?: boolean;
  /** Tracing, loaded by the caller from OTEL_* (loadTracing) before the logger is made. */
  readonly tracing?: Tracing | undefined;
  /**
   * PostgreSQL: the deployment's token signing key as the database holds it (sharedSigningKeyPem;
   * `berth serve` reads it), used when auth.tokenservice.keyfile is not set.
   */
  readonly signingKeyPem?: string | undefined;
  /** What the processes serving one port share (http.workers): src/cli/workers.ts. */
  readonly workers?: WorkerSharing | undefined;
}

export interface App {
  readonly server: Server;
  /** The operators' server on http.debug.addr, when configured. */
  readonly debugServer: Server | undefined;
  /** Metrics, when on. */
  readonly metrics: Metrics | undefined;
  /** Webhook notifications, when an endpoint is enabled. */
  readonly notifications: Notifications | undefined;
  readonly registry: Registry;
  /** Runs the garbage collector once now (docs/gc.md), with the configured options unless overridden. */
  collectGarbage(overrides?: Partial<CollectOptions>): Promise<CollectReport>;
  /** Starts listening (and the debug server); resolves with the main server's bound address. */
  listen(): Promise<AddressInfo>;
  /** The debug server's bound address, once listening (undefined without http.debug.addr). */
  debugAddress(): AddressInfo | undefined;
  /** What /readyz reports (tests and the CLI start the drain through it). */
  readonly readiness: Readiness;
  /** SIGTERM: /readyz answers 503 for `delayMs` while everything else is served, then close(). */
  drain(delayMs: number): Promise<void>;
  /** Stops accepting, lets in-flight requests finish (up to http.draintimeout), releases resources. */
  close(): Promise<void>;
}

export function createApp(config: Config, log: Logger, options: AppOptions = {}): App {
  // First: it reads files named by the configuration (htpasswd, keys) and may refuse them.
  // PostgreSQL instances, and workers on one SQLite file, share failed logins and the signing key
  // (the store opens below).
  let sharedState: SharedStateStore | undefined;
  const shared = config.database !== undefined || options.workers !== undefined;
  const access = createAccess(
    config.auth,
    log,
    !shared
      ? undefined
      : {
          store: () => {
            if (sharedState === undefined) throw new Error('app: the metadata store is not open yet');
            return sharedState;
          },
          signingKeyPem: options.signingKeyPem ?? options.workers?.signingKeyPem,
        },
  );
  const metrics: Metrics | undefined = config.metrics === undefined ? undefined : new PrometheusMetrics({ version: VERSION, defaultMetrics: options.processMetrics ?? true, workers: options.workers?.metrics });
  const rawStorage = createStorage(config);
  // PostgreSQL: the caller has checked the schema (PostgresStore.checkSchema; `berth serve` does).
  const metadataKind = config.database === undefined ? 'sqlite' : 'postgres';
  const rawMetadata =
    config.database === undefined
      ? new SqliteStore({
          path: config.metadata.sqlitePath,
          synchronous: config.metadata.synchronous,
          onBackgroundCheckpointError: (message) => log.warn({ error: message }, 'background WAL checkpoint failed; commits checkpoint by themselves'),
        })
      : PostgresStore.connect(postgresOptions(config.database));
  if (shared) sharedState = rawMetadata;
  // Thin instrumented proxies only when something listens: the embedded default pays nothing otherwise.
  const tracing = options.tracing;
  const storage = instrument(
    rawStorage,
    probes(metrics === undefined ? undefined : timingProbe((action) => metrics.actionObserver('storage', rawStorage.name, action)), tracing?.probe('storage', rawStorage.name)),
  );
  const metadata = instrument(
    rawMetadata,
    probes(metrics === undefined ? undefined : timingProbe((action) => metrics.actionObserver('metadata', metadataKind, action)), tracing?.probe('metadata', metadataKind)),
  );
  metrics?.watch({ gcQueueStats: () => rawMetadata.gcQueueStats(), countUploads: () => rawMetadata.countUploads() });
  const registryOptions = {
    deleteEnabled: config.storage.deleteEnabled,
    readOnly: config.storage.readOnly,
    automaticMount: config.storage.automaticMount,
    manifestMaxBytes: config.limits.manifestMaxBytes,
    listing: { defaultTags: undefined, defaultCatalog: config.limits.catalogDefault, maxPage: config.limits.maxPage },
    lifecycle: config.lifecycle,
    gc: { enabled: config.gc.enabled && !config.storage.readOnly, reviewDelayMs: config.gc.reviewDelayMs, intervalMs: config.gc.intervalMs },
    ...(config.proxy === undefined ? {} : { upstreams: new ProxyUpstreams(config.proxy.upstreams) }),
    ...(config.proxy === undefined || metrics === undefined ? {} : { proxyObserver: metrics.proxy }),
    ...(config.proxy === undefined ? {} : { proxyConfirmations: rawMetadata }),
    ...(config.proxy === undefined ? {} : { proxyPullTimes: { store: rawMetadata, onError: (error: unknown) => log.warn({ err: error }, 'recording the cache\'s pull times failed') } }),
    // Several instances (PostgreSQL) or workers (one SQLite file): any of them may continue an upload,
    // and one upstream GET of a cold blob serves every one of them.
    sharedUploads: shared,
    ...(shared ? { proxyFills: { store: rawMetadata, holder: `${hostname()}:${process.pid}:${randomUUID()}` } } : {}),
    // SQLite is one machine's: every process sharing it started with this one (the supervisor's start).
    uploadBoot: config.database === undefined ? (options.workers?.boot ?? randomUUID()) : undefined,
    ...uploadClaimForTests(),
  };
  const notifications = Notifications.create(config.notifications, metadata, { source: eventSource(config), deliver: true }, log, metrics);
  const registry = new Registry(
    metadata,
    storage,
    registryOptions,
    metadata,
    metrics === undefined ? undefined : { bytesReceived: (bytes) => metrics.bytesPushed(bytes) },
    notifications,
    // The browse API and GC-run history (web UI): both stores keep them.
    metadata,
    metadata,
  );
  const readiness = new Readiness(metadata, storage, { storageCheck: config.health.storageDriver }, log, metrics);
  metrics?.watch({ ready: async () => (await readiness.report()).ready });
  const ui = config.ui.enabled ? new UiFiles(config.ui.path) : undefined;
  if (ui !== undefined && !ui.built) log.warn({ path: config.ui.path }, 'ui.enabled but the web UI is not built (npm run build); its path answers 404');
  const listener = createDispatcher({
    ui,
    registry,
    access: access.controller,
    tokenService: access.tokenService,
    log,
    settings: { baseUrl: config.http.baseUrl, relativeUrls: config.http.relativeUrls, headers: config.http.headers },
    accessLog: config.log.accessLog,
    metrics,
    metricsRoute: config.http.debug === undefined ? config.metrics : undefined,
    readiness,
    tracing,
  });
  const debug = config.http.debug;
  const debugServer =
    debug === undefined
      ? undefined
      : createHttpServer({ headersTimeout: 10_000, keepAliveTimeout: 65_000 }, createDebugListener({ registry, log, metrics, metricsPath: config.metrics?.path ?? '/metrics', readiness }));
  const serverOptions = {
    requestTimeout: 0,
    headersTimeout: 60_000,
    keepAliveTimeout: 65_000,
  };
  const tls = config.http.tls;
  const server: Server =
    tls === undefined
      ? createHttpServer(serverOptions, listener)
      : (createHttpsServer(
          {
            ...serverOptions,
            cert: readFileSync(tls.certificate),
            key: readFileSync(tls.key),
            minVersion: tls.minVersion,
            // Without auth.*, a client certificate is required; with it, a verified one logs in (its CN).
            ...(tls.clientCas.length > 0 ? { ca: tls.clientCas.map((file) => readFileSync(file)), requestCert: true, rejectUnauthorized: config.auth === undefined } : {}),
          },
          listener,
        ));

  const purging = config.storage.uploadPurging;
  let stopPurging = (): void => undefined;
  let stopCollecting = (): Promise<void> => Promise.resolve();
  const collect = (overrides: Partial<CollectOptions> = {}): Promise<CollectReport> =>
    collectAndCount(overrides);
  const collectAndCount = async (overrides: Partial<CollectOptions>): Promise<CollectReport> => {
    try {
      const report = await runCollector(overrides);
      if (!report.dryRun) {
        metrics?.gcFinished(report);
        await metadata.recordGcRun(gcRunOf(report, 'server'));
      }
      return report;
    } catch (error) {
      metrics?.gcFailed();
      throw error;
    }
  };
  const rules = evictionRules(config.proxy?.upstreams ?? []);
  const eviction = rules.length === 0 ? undefined : { rules, store: metadata };
  const runCollector = async (overrides: Partial<CollectOptions>): Promise<CollectReport> => {
    // This process's latest pulls count before anything is evicted (another process's lag by PULL_TIMES_FLUSH_MS at most).
    if (eviction !== undefined) await registry.proxy?.flushPullTimes();
    return collectGarbage(
      metadata,
      storage,
      {
        reviewDelayMs: config.gc.reviewDelayMs,
        dryRun: false,
        sweepOrphans: config.gc.sweepOrphans,
        policies: { rules: config.lifecycle, immutability: registry.policy },
        ...(eviction === undefined ? {} : { eviction }),
        ...(notifications === undefined ? {} : { removalEvents: (actor: SystemActor) => notifications.removals(actor) }),
        ...overrides,
      },
      log,
    );
  };

  const close = async (): Promise<void> => {
    readiness.startDraining();
    readiness.stop();
    stopPurging();
    const collecting = stopCollecting();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const timer = setTimeout(() => server.closeAllConnections(), config.http.drainTimeoutMs);
    await closed;
    clearTimeout(timer);
    await collecting;
    await registry.proxy?.flushPullTimes();
    await notifications?.close(Math.min(config.http.drainTimeoutMs, 5000));
    if (debugServer?.listening === true) {
      const debugClosed = new Promise<void>((resolve) => debugServer.close(() => resolve()));
      debugServer.closeAllConnections();
      await debugClosed;
    }
    await metadata.close();
  };

  return {
    server,
    debugServer,
    notifications,
    readiness,
    close,
    drain: async (delayMs) => {
      readiness.startDraining();
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      await close();
    },
    metrics,
    registry,
    collectGarbage: collect,
    debugAddress: () => (debugServer?.listening === true ? (debugServer.address() as AddressInfo) : undefined),
    listen: async () => {
      if (debugServer !== undefined && debug !== undefined) {
        await new Promise<void>((resolve, reject) => {
          debugServer.once('error', reject);
          debugServer.listen(debug.port, debug.host, () => {
            debugServer.off('error', reject);
            resolve();
          });
        });
      }
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.http.port, config.http.host, () => {
          server.off('error', reject);
          if (purging.enabled && !config.storage.readOnly) {
            stopPurging = schedulePurging(() => purgeUploads(metadata, storage, purging, log), purging.intervalMs, log);
          }
          if (config.gc.enabled && !config.storage.readOnly) {
            stopCollecting = scheduleCollection(() => collect(), config.gc.intervalMs, log);
          }
          readiness.start();
          notifications?.start();
          resolve(server.address() as AddressInfo);
        });
      });
    },
  };
}

/** What events say generated them: this host and port, and the base of target URLs of events no request made. */
export function eventSource(config: Config): { addr: string; baseUrl: string } {
  const addr = `${hostname()}:${config.http.port}`;
  return { addr, baseUrl: config.http.baseUrl ?? `${config.http.tls === undefined ? 'http' : 'https'}://${addr}` };
}

/** The configured storage driver (also used by `berth gc`). */
export function createStorage(config: Config): StorageDriver {
  const driver = config.storage.driver;
  if (driver.kind === 'inmemory') return new MemoryDriver();
  if (driver.kind === 's3') {
    const settings = { accessKey: driver.accessKey, secretKey: driver.secretKey, region: driver.region, regionEndpoint: driver.regionEndpoint, forcePathStyle: driver.forcePathStyle, secure: driver.secure, skipVerify: driver.skipVerify };
    const client = createS3Client(settings);
    return new S3Driver({
      client,
      bucket: driver.bucket,
      rootDirectory: driver.rootDirectory,
      chunkSize: driver.chunkSize,
      multipartCopyChunkSize: driver.multipartCopyChunkSize,
      multipartCopyMaxConcurrency: driver.multipartCopyMaxConcurrency,
      multipartCopyThresholdSize: driver.multipartCopyThresholdSize,
      storageClass: driver.storageClass,
      encryption: driver.encrypt ? { keyId: driver.keyId } : undefined,
      redirect: !config.storage.redirectDisabled,
      endpoint: endpointUrl(settings),
    });
  }
  mkdirSync(driver.rootDirectory, { recursive: true });
  return new FilesystemDriver(driver.rootDirectory);
}

/**
 * Tests only: BERTH_TEST_UPLOAD_CLAIM_MS shortens how long an upload writer's claim holds (60 s), so
 * that a test can see a killed instance's claim taken over in seconds.
 */
function uploadClaimForTests(): { uploadClaimMs?: number } {
  const value = process.env.BERTH_TEST_UPLOAD_CLAIM_MS;
  if (value === undefined) return {};
  const ms = Number(value);
  if (!Number.isSafeInteger(ms) || ms < 1000) throw new Error(`BERTH_TEST_UPLOAD_CLAIM_MS must be an integer of at least 1000 (ms), not ${value}`);
  return { uploadClaimMs: ms };
}
