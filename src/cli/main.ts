#!/usr/bin/env -S node --max-semi-space-size=8 --initial-old-space-size=48
// The flags, also in `npm start` and the bench's launch (README, Performance):
// --max-semi-space-size=8 halves V8's young generation: 19 MiB less peak RSS under load.
// --initial-old-space-size=48 starts the old generation's limit at 48 MB instead of about 20. Upload
// bodies arrive as 64 KiB buffers outside the heap, which V8 weighs against that limit until a young
// collection frees them: near the live heap (~9 MB), the limit started a full marking every ~25 MiB
// of a chunked push (31 in 768 MiB). Measured: chunked push of 256 MiB 466 → 612 MiB/s (medians of
// five, alternating), peak RSS of a bench-like sequence 120 → 125 MiB.
// berth: the command line. `berth serve [config.yml]` runs the registry in the foreground;
// `berth config check FILE` validates a configuration file without serving; `berth gc [--dry-run]`
// runs the garbage collector once against the configured store.
import { Command } from 'commander';
import { type Logger, pino } from 'pino';
import { createApp, createStorage, eventSource, VERSION } from '../app.js';
import { sharedSigningKeyPem } from '../auth/shared-signing-key.js';
import { Notifications } from '../events/notifications.js';
import { parseDuration } from '../config/duration.js';
import { cacheScope, evictionRules } from '../gc/cache-eviction.js';
import { collectGarbage, gcRunOf } from '../gc/collector.js';
import { purgeUploads } from '../gc/upload-purger.js';
import pg from 'pg';
import { postgresOptions } from '../metadata/postgres/connection.js';
import { migrateDown, migrateUp, migrationStatus, SchemaMismatchError } from '../metadata/postgres/migrator.js';
import { PostgresStore } from '../metadata/postgres/postgres-store.js';
import { SqliteStore } from '../metadata/sqlite/sqlite-store.js';
import type { Usage } from '../metadata/lifecycle.js';
import { LifecyclePolicy, namespaceOf } from '../registry/lifecycle-policy.js';
import { unknownVariables } from '../config/environment.js';
import { ConfigError, loadConfig, workerCount } from '../config/load.js';
import type { Config } from '../config/config.js';
import { layoutOf, sourceConfigOf, SourceConfigError } from '../migrate/source-config.js';
import { BerthLayout } from '../migrate/berth-layout.js';
import type { DistributionLayout } from '../migrate/distribution-layout.js';
import { Importer } from '../migrate/importer.js';
import { formatImportReport } from '../migrate/report.js';
import { progressPrinter } from '../migrate/progress.js';
import { loadTracing, tracesExporter } from '../telemetry/tracing.js';
import { isWorker, superviseWorkers, withWorkerPidHeader, workerSharing } from './workers.js';
import { tuneMalloc } from './malloc-tuning.js';
import type { SystemActor } from '../registry/changes.js';

// First, before any blob moves through this process (every command: serve, import, gc).
const mallocTuning = tuneMalloc();

const program = new Command();
program.name('berth').description('An OCI Distribution Spec v1.1 container registry').version('0.1.0');

/** Warns once per REGISTRY_* variable that names no configuration key (distribution warns too). */
function warnUnknownVariables(log: Logger): void {
  for (const entry of unknownVariables(process.env)) log.warn({ variable: entry.variable }, entry.message);
}

program
  .command('serve')
  .description('serve the registry in the foreground')
  .argument('[config]', 'configuration file (distribution config.yml keys); REGISTRY_* environment variables override it')
  .option('--workers <n>', 'processes serving the port (overrides http.workers; default: the number of CPUs)')
  .action(async (file: string | undefined, options: { workers?: string }) => {
    const loaded = loadOrExit(file);
    const workers = isWorker() ? 1 : workersOrExit(loaded, options.workers);
    // PostgreSQL: refuse a schema this berth does not know (or not migrated), naming the command;
    // checked once, before any worker starts (a worker exiting for it would only be restarted).
    if (!isWorker() && loaded.database !== undefined) await PostgresStore.checkSchema(postgresOptions(loaded.database)).catch(exitOnSchemaError);
    if (workers > 1) {
      const supervisorLog = pino({ level: loaded.log.level, base: { pid: process.pid, role: 'supervisor', ...loaded.log.fields } });
      warnUnknownVariables(supervisorLog);
      superviseWorkers(loaded, workers, supervisorLog);
      return;
    }
    // Before anything starts: a SIGTERM while this process is still starting (a worker the
    // supervisor may already hand connections to) must drain it once it listens, not kill it with
    // those connections unanswered.
    let stop: ((signal: string) => void) | undefined = undefined;
    let early: string | undefined;
    const onSignal = (signal: string): void => {
      if (stop === undefined) early ??= signal;
      else stop(signal);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    const config = withWorkerPidHeader(loaded);
    // Tracing first: the logger's mixin adds the active span's ids to each line. Off (no OTEL_*
    // exporter asked for), the SDK is never loaded.
    const tracing = await loadTracing(process.env, VERSION).catch(exitOnConfigError);
    const log = pino({ level: config.log.level, base: { pid: process.pid, ...config.log.fields }, ...(tracing === undefined ? {} : { mixin: () => tracing.logMixin() }) });
    // A crash is a log line too (level fatal, with the stack), not only text on stderr.
    process.on('uncaughtExceptionMonitor', (error, origin) => log.fatal({ err: error, origin }, 'berth crashed'));
    // Workers inherit the supervisor's environment: it has warned once for all of them.
    if (!isWorker()) warnUnknownVariables(log);
    if (tracing !== undefined) log.info({ exporter: tracesExporter(process.env) }, 'OpenTelemetry tracing on');
    // PostgreSQL and the token service without a keyfile: every instance signs with the key the database holds.
    const signingKeyPem = config.database !== undefined && config.auth?.tokenService !== undefined && config.auth.tokenService.keyFile === undefined ? await databaseSigningKey(postgresOptions(config.database)) : undefined;
    const app = createOrExit(() => createApp(config, log, { tracing, signingKeyPem, workers: isWorker() ? workerSharing() : undefined }));
    const address = await app.listen();
    log.info({ address: `${address.address}:${address.port}`, storage: config.storage.driver.kind, tls: config.http.tls !== undefined, malloc: mallocTuning }, 'berth listening');
    let stopping = false;
    stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      // SIGTERM (an orchestrator): /readyz answers 503 first, for http.draindelay, so that a load
      // balancer stops sending before connections close. SIGINT (Ctrl-C) drains at once.
      const delayMs = signal === 'SIGTERM' ? config.http.drainDelayMs : 0;
      log.info({ signal, readinessDelayMs: delayMs }, 'draining: /readyz answers 503, then in-flight requests finish');
      app.drain(delayMs).then(
        async () => {
          await tracing?.shutdown().catch((error: unknown) => log.warn({ err: error }, 'exporting the last spans failed'));
          log.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    if (early !== undefined) stop(early);
  });

program
  .command('gc')
  .description('collect garbage now: unreferenced manifests and blobs past gc.reviewdelay, orphaned bytes, abandoned uploads; safe while the server runs')
  .argument('[config]', 'configuration file (the same as the server\'s)')
  .option('--dry-run', 'report what would go, remove nothing')
  .option('--review-delay <duration>', 'override gc.reviewdelay (e.g. 0s, 1h)')
  .option('--json', 'print the report as JSON')
  .action(async (file: string | undefined, options: { dryRun?: boolean; reviewDelay?: string; json?: boolean }) => {
    const config = loadOrExit(file);
    const log = pino({ level: options.json === true ? 'silent' : config.log.level, base: { pid: process.pid } }, process.stderr);
    const reviewDelayMs = options.reviewDelay === undefined ? config.gc.reviewDelayMs : parseDuration(options.reviewDelay);
    if (reviewDelayMs === undefined) {
      process.stderr.write(`berth: --review-delay: not a duration: ${options.reviewDelay ?? ''}\n`);
      process.exit(2);
    }
    const storage = createStorage(config);
    const metadata = await openMetadata(config);
    try {
      const dryRun = options.dryRun === true;
      const policies = { rules: config.lifecycle, immutability: new LifecyclePolicy(config.lifecycle) };
      // With notification endpoints, what this run removes is reported through the outbox (the
      // server's deliverers send it).
      const notifications = Notifications.create(config.notifications, metadata, { source: eventSource(config), deliver: false }, log);
      const removalEvents = notifications === undefined ? {} : { removalEvents: (actor: SystemActor) => notifications.removals(actor) };
      const rules = evictionRules(config.proxy?.upstreams ?? []);
      const eviction = rules.length === 0 ? {} : { eviction: { rules, store: metadata } };
      const report = await collectGarbage(metadata, storage, { reviewDelayMs, dryRun, sweepOrphans: config.gc.sweepOrphans, policies, ...eviction, ...removalEvents }, log);
      if (!dryRun) await metadata.recordGcRun(gcRunOf(report, 'command'));
      const uploads = await purgeUploads(metadata, storage, { ageMs: config.storage.uploadPurging.ageMs, dryRun }, log);
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify({ ...report, uploads })}\n`);
      } else {
        const verb = dryRun ? 'would remove' : 'removed';
        for (const tag of report.policy.tags) process.stdout.write(`tag ${tag} (retention)\n`);
        for (const manifest of report.policy.manifests) process.stdout.write(`untagged ${manifest} (policy)\n`);
        for (const manifest of report.evicted.manifests) process.stdout.write(`evicted ${manifest} (pull-through cache)\n`);
        for (const digest of report.collectedManifests) process.stdout.write(`manifest ${digest}\n`);
        for (const digest of report.collectedBlobs) process.stdout.write(`blob ${digest}\n`);
        process.stdout.write(
          `${verb} ${report.manifests} manifests, ${report.blobs} blobs (${report.bytesReclaimed} bytes), ` +
            `${report.orphans} orphaned blob files (${report.orphanBytes} bytes), ${uploads.sessions + uploads.orphanFiles} abandoned uploads` +
            `${report.resumed > 0 ? `; finished ${report.resumed} deletions of an interrupted run` : ''} in ${report.durationMs} ms\n`,
        );
      }
    } finally {
      await metadata.close();
    }
  });

program
  .command('usage')
  .description('storage used per repository and per namespace (a blob counts once in each scope that references it)')
  .argument('[config]', 'configuration file (the same as the server\'s)')
  .option('-r, --repository <name>', 'one repository (and its namespace)')
  .option('--json', 'print JSON')
  .action(async (file: string | undefined, options: { repository?: string; json?: boolean }) => {
    const config = loadOrExit(file);
    const metadata = await openMetadata(config);
    try {
      const repositories = options.repository === undefined ? await metadata.listRepositoryUsage() : [await metadata.usage({ repository: options.repository })];
      const namespaces = await Promise.all([...new Set(repositories.map((row) => namespaceOf(row.scope)))].map((namespace) => metadata.usage({ namespace })));
      const registry = await metadata.usage({ registry: true });
      const unreferenced = await metadata.unreferencedBlobBytes();
      // The pull-through cache per upstream, in the scope its maxsize counts.
      const caches = await Promise.all(
        (config.proxy?.upstreams ?? []).map(async (upstream) => ({
          upstream: upstream.url,
          prefix: upstream.prefix,
          maxBytes: upstream.maxBytes ?? null,
          // The registry's totals are already counted above: not read again for proxy.remoteurl.
          usage: upstream.prefix === '' ? registry : await metadata.usage(cacheScope(upstream.prefix)),
        })),
      );
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify({ registry, unreferenced, namespaces, repositories, caches })}\n`);
        return;
      }
      const line = (kind: string, row: Usage): string =>
        `${kind.padEnd(10)} ${row.scope.padEnd(40)} ${String(row.blobBytes + row.manifestBytes).padStart(14)} ${String(row.blobs).padStart(7)} ${String(row.manifests).padStart(9)} ${String(row.tags).padStart(6)}\n`;
      process.stdout.write(`${'scope'.padEnd(10)} ${'name'.padEnd(40)} ${'bytes'.padStart(14)} ${'blobs'.padStart(7)} ${'manifests'.padStart(9)} ${'tags'.padStart(6)}\n`);
      for (const row of repositories) process.stdout.write(line('repository', row));
      for (const row of namespaces) process.stdout.write(line('namespace', row));
      process.stdout.write(line('registry', registry));
      for (const cache of caches) {
        const limit = cache.maxBytes === null ? 'no maxsize' : `maxsize ${cache.maxBytes}`;
        process.stdout.write(line('cache', { ...cache.usage, scope: `${cache.prefix || '*'} (${cache.upstream}, ${limit})` }));
      }
      process.stdout.write(`unreferenced blobs (collected after gc.reviewdelay): ${unreferenced.blobs} (${unreferenced.bytes} bytes)\n`);
    } finally {
      await metadata.close();
    }
  });

const databaseCommand = program.command('database').description('the PostgreSQL metadata database (database.*)');
const migrateCommand = databaseCommand.command('migrate').description('schema migrations (a server refuses a schema it does not know)');
for (const [name, description] of [
  ['up', 'apply every pending migration'],
  ['down', 'revert the newest migration (or --count of them)'],
  ['status', 'print the applied and known schema versions; exit status 1 when they differ'],
] as const) {
  migrateCommand
    .command(name)
    .description(description)
    .argument('[config]', "configuration file (the same as the server's)")
    .option('-n, --count <n>', 'how many migrations (up: all, down: 1)')
    .action(async (file: string | undefined, options: { count?: string }) => {
      const config = loadOrExit(file);
      if (config.database === undefined) {
        process.stderr.write('berth: database.enabled is false: the metadata is in SQLite, which migrates itself\n');
        process.exit(2);
      }
      const count = options.count === undefined ? undefined : Number(options.count);
      if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
        process.stderr.write(`berth: --count: not a positive integer: ${options.count ?? ''}\n`);
        process.exit(2);
      }
      const pool = new pg.Pool(postgresOptions(config.database).connection as pg.PoolConfig);
      try {
        if (name === 'status') {
          const status = await migrationStatus(pool);
          process.stdout.write(`applied ${status.applied}, known ${status.expected}${status.applied === status.expected ? '' : status.applied < status.expected ? ': run `berth database migrate up`' : ': the schema is newer than this berth'}\n`);
          process.exitCode = status.applied === status.expected ? 0 : 1;
          return;
        }
        const done = name === 'up' ? await migrateUp(pool, count) : await migrateDown(pool, count ?? 1);
        process.stdout.write(done.length === 0 ? 'nothing to do\n' : `${name === 'up' ? 'applied' : 'reverted'} ${done.join(', ')}\n`);
      } catch (error) {
        exitOnSchemaError(error);
      } finally {
        await pool.end();
      }
    });
}

program
  .command('import')
  .description("import a distribution registry's storage (docker/registry/v2/...) into the configured store: verified, hard-linked on the same filesystem, resumable, safe while the old registry serves")
  .argument('<source>', "distribution's storage.filesystem.rootdirectory (the directory holding docker/registry/v2), or the old registry's configuration file (its storage.filesystem or storage.s3 section is read)")
  .argument('[config]', "configuration file of the destination (the same as the server's)")
  .option('--dry-run', 'report what would come over, change nothing')
  .option('--no-verify <reason>', 'do not hash blob bytes (the reason goes into the report)')
  .option('--full', 'ignore the journal: look at every repository again')
  .option('--concurrency <n>', 'repositories imported at once', '4')
  .option('--json', 'print the final report as JSON')
  .option('--from <kind>', 'what the source is: distribution (its storage layout) or berth (another Berth store, <source> being its configuration file)', 'distribution')
  .action(async (source: string, file: string | undefined, options: { dryRun?: boolean; verify?: string | boolean; full?: boolean; concurrency: string; json?: boolean; from: string }) => {
    const config = loadOrExit(file);
    if (options.from !== 'distribution' && options.from !== 'berth') {
      process.stderr.write(`berth: --from: distribution or berth, not ${options.from}\n`);
      process.exit(2);
    }
    const concurrency = Number(options.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      process.stderr.write(`berth: --concurrency: not a positive integer: ${options.concurrency}\n`);
      process.exit(2);
    }
    let layout: DistributionLayout;
    let sourceMetadata: SqliteStore | PostgresStore | undefined;
    if (options.from === 'berth') {
      // The source's configuration file as it is: REGISTRY_* variables configure the destination.
      const sourceConfig = loadOrExit(source, {});
      if (storeName(sourceConfig) === storeName(config)) {
        process.stderr.write(`berth: import: the source and the destination are the same store (${storeName(config)})\n`);
        process.exit(2);
      }
      sourceMetadata = await openMetadata(sourceConfig);
      layout = new BerthLayout(`berth:${storeName(sourceConfig)}`, sourceMetadata, createStorage(sourceConfig));
    } else {
      try {
        layout = layoutOf(sourceConfigOf(source));
      } catch (error) {
        if (!(error instanceof SourceConfigError)) throw error;
        process.stderr.write(`berth: import: ${error.message}\n`);
        process.exit(2);
      }
    }
    const storage = createStorage(config);
    const metadata = await openMetadata(config);
    try {
      const importer = new Importer(layout, metadata, metadata, storage, {
        dryRun: options.dryRun === true,
        ...(typeof options.verify === 'string' ? { noVerifyReason: options.verify } : {}),
        full: options.full === true,
        concurrency,
        onProgress: progressPrinter(process.stderr),
      });
      const report = await importer.run();
      if (options.json === true) process.stdout.write(`${JSON.stringify(report)}\n`);
      else process.stdout.write(formatImportReport(report));
      process.exitCode = report.refusals.length > 0 ? 3 : 0;
    } finally {
      await metadata.close();
      await sourceMetadata?.close();
    }
  });

/** A Berth store by where its metadata and bytes are (the import journal's source name; no secrets). */
function storeName(config: Config): string {
  const database = config.database;
  const metadata = database === undefined ? `sqlite:${config.metadata.sqlitePath}` : `postgres:${database.host}:${database.port}/${database.dbname}`;
  const driver = config.storage.driver;
  const bytes = driver.kind === 's3' ? `s3:${driver.regionEndpoint ?? 'aws'}/${driver.bucket}/${driver.rootDirectory}` : driver.kind === 'filesystem' ? `filesystem:${driver.rootDirectory}` : 'inmemory';
  return `${metadata}+${bytes}`;
}

const configCommand = program.command('config').description('configuration tools');
configCommand
  .command('check')
  .description('validate a configuration file (and REGISTRY_* overrides) without serving')
  .argument('<file>', 'configuration file')
  .action((file: string) => {
    loadOrExit(file);
    for (const entry of unknownVariables(process.env)) process.stderr.write(`berth: warning: ${entry.message}\n`);
    process.stdout.write(`${file}: configuration is valid\n`);
  });

/** The deployment's token signing key from the database, created by the first instance that asks. */
async function databaseSigningKey(options: Parameters<typeof PostgresStore.connect>[0]): Promise<string> {
  const store = PostgresStore.connect(options);
  try {
    return await sharedSigningKeyPem(store);
  } finally {
    await store.close();
  }
}

/** createApp, with a file named by the configuration that cannot be used (e.g. auth.htpasswd.path) as exit status 2. */
function createOrExit<T>(create: () => T): T {
  try {
    return create();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`berth: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`berth: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

/** --workers N, checked like http.workers. */
function workersOrExit(config: Config, option: string | undefined): number {
  if (option === undefined) return config.http.workers;
  const n = Number(option);
  try {
    if (!Number.isSafeInteger(n)) throw new ConfigError('must be an integer', 'http.workers');
    return workerCount(n, config.storage.driver.kind === 'inmemory');
  } catch (error) {
    return exitOnConfigError(error);
  }
}

function loadOrExit(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ReturnType<typeof loadConfig> {
  try {
    return loadConfig(file, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`berth: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

await program.parseAsync(process.argv);

/** The configured metadata store: SQLite, or PostgreSQL with its schema checked. */
async function openMetadata(config: Config): Promise<SqliteStore | PostgresStore> {
  if (config.database === undefined) return new SqliteStore({ path: config.metadata.sqlitePath, synchronous: config.metadata.synchronous });
  return PostgresStore.open(postgresOptions(config.database)).catch(exitOnSchemaError);
}

/** A schema this berth does not know (the message names the command), or a database it cannot reach: exit status 2. */
function exitOnSchemaError(error: unknown): never {
  process.stderr.write(`berth: ${error instanceof SchemaMismatchError ? error.message : `database: ${error instanceof Error ? error.message : String(error)}`}\n`);
  process.exit(2);
}
