// The composition root: createApp(config) builds the storage driver, the metadata store, the
// registry services, access control and the HTTP(S) server; close() drains and releases them.
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createAccess } from './auth/create-access.js';
import type { Config } from './config/config.js';
import { collectGarbage, scheduleCollection, type CollectOptions, type CollectReport } from './gc/collector.js';
import { purgeUploads, schedulePurging } from './gc/upload-purger.js';
import { createDispatcher } from './http/dispatch.js';
import { SqliteStore } from './metadata/sqlite/sqlite-store.js';
import { Registry } from './registry/registry.js';
import type { StorageDriver } from './storage/driver.js';
import { FilesystemDriver } from './storage/filesystem/filesystem-driver.js';
import { MemoryDriver } from './storage/memory/memory-driver.js';

export interface App {
  readonly server: Server;
  readonly registry: Registry;
  /** Runs the garbage collector once now (docs/gc.md), with the configured options unless overridden. */
  collectGarbage(overrides?: Partial<CollectOptions>): Promise<CollectReport>;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish (up to http.draintimeout), releases resources. */
  close(): Promise<void>;
}

export function createApp(config: Config, log: Logger): App {
  // First: it reads files named by the configuration (htpasswd, keys) and may refuse them.
  const access = createAccess(config.auth, log);
  const storage = createStorage(config);
  const metadata = new SqliteStore({
    path: config.metadata.sqlitePath,
    synchronous: config.metadata.synchronous,
    onBackgroundCheckpointError: (message) => log.warn({ error: message }, 'background WAL checkpoint failed; commits checkpoint by themselves'),
  });
  const registryOptions = {
    deleteEnabled: config.storage.deleteEnabled,
    readOnly: config.storage.readOnly,
    automaticMount: config.storage.automaticMount,
    manifestMaxBytes: config.limits.manifestMaxBytes,
    listing: { defaultTags: undefined, defaultCatalog: config.limits.catalogDefault, maxPage: config.limits.maxPage },
    lifecycle: config.lifecycle,
  };
  const registry = new Registry(metadata, storage, registryOptions, metadata);
  const listener = createDispatcher({
    registry,
    access: access.controller,
    tokenService: access.tokenService,
    log,
    settings: { baseUrl: config.http.baseUrl, headers: config.http.headers },
    accessLog: config.log.accessLog,
  });
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
    collectGarbage(
      metadata,
      storage,
      {
        reviewDelayMs: config.gc.reviewDelayMs,
        dryRun: false,
        sweepOrphans: config.gc.sweepOrphans,
        policies: { rules: config.lifecycle, immutability: registry.policy },
        ...overrides,
      },
      log,
    );

  return {
    server,
    registry,
    collectGarbage: collect,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.http.port, config.http.host, () => {
          server.off('error', reject);
          if (purging.enabled && !config.storage.readOnly) {
            stopPurging = schedulePurging(() => purgeUploads(metadata, storage, purging, log), purging.intervalMs, log);
          }
          if (config.gc.enabled && !config.storage.readOnly) {
            stopCollecting = scheduleCollection(() => collect(), config.gc.intervalMs, log);
          }
          resolve(server.address() as AddressInfo);
        });
      }),
    close: async () => {
      stopPurging();
      const collecting = stopCollecting();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.http.drainTimeoutMs);
      await closed;
      clearTimeout(timer);
      await collecting;
      await metadata.close();
    },
  };
}

/** The configured storage driver (also used by `berth gc`). */
export function createStorage(config: Config): StorageDriver {
  const driver = config.storage.driver;
  if (driver.kind === 'inmemory') return new MemoryDriver();
  mkdirSync(driver.rootDirectory, { recursive: true });
  return new FilesystemDriver(driver.rootDirectory);
}
