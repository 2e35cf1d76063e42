// Several processes serving one port (http.workers), with node:cluster. The supervisor (the primary
// process) serves nothing itself: it loads or generates the token signing key once and hands it to
// every worker, sums the workers' metrics for a scrape, restarts a worker that dies, and on SIGTERM
// or SIGINT passes the signal on and exits when all have drained. Everything else the workers share
// (failed logins, upload sessions) lives in the metadata store (SQLite in WAL mode, one file), as it
// would for several instances: docs/scale-out.md says, per cache and per rule, why that holds.
import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AppOptions } from '../app.js';
import { loadSigningKey } from '../auth/token-keys.js';
import type { Config } from '../config/config.js';
import { aggregateSnapshots, type MetricsSnapshot } from '../telemetry/aggregate.js';

const SIGNING_KEY_ENV = 'BERTH_WORKER_SIGNING_KEY';
const BOOT_ENV = 'BERTH_WORKER_BOOT';
/** Set (to anything) by tests only: every response names the worker's pid, so that a test can tell them apart. */
export const WORKER_PID_HEADER_ENV = 'BERTH_TEST_WORKER_PID_HEADER';
export const WORKER_PID_HEADER = 'Berth-Worker-Pid';
// A scrape on any worker: it asks the supervisor (METRICS_REQUEST), which asks every worker for its
// metrics (METRICS_COLLECT → METRICS_PART), sums them and answers the one asking (METRICS_REPLY).
const METRICS_REQUEST = 'berth:metrics-request';
const METRICS_COLLECT = 'berth:metrics-collect';
const METRICS_PART = 'berth:metrics-part';
const METRICS_REPLY = 'berth:metrics-reply';
/** A worker that has not answered by then (dying, stalled) is left out of that scrape. */
const METRICS_COLLECT_TIMEOUT_MS = 5000;
const METRICS_REPLY_TIMEOUT_MS = 10_000;

type Message =
  | { readonly kind: typeof METRICS_REQUEST; readonly id: number }
  | { readonly kind: typeof METRICS_COLLECT; readonly id: number }
  | { readonly kind: typeof METRICS_PART; readonly id: number; readonly snapshot: MetricsSnapshot }
  | { readonly kind: typeof METRICS_REPLY; readonly id: number; readonly contentType: string; readonly body: string }
  | { readonly kind: typeof METRICS_REPLY; readonly id: number; readonly error: string };

function isMessage(message: unknown): message is Message {
  if (typeof message !== 'object' || message === null) return false;
  const { kind, id } = message as { kind?: unknown; id?: unknown };
  return typeof id === 'number' && (kind === METRICS_REQUEST || kind === METRICS_COLLECT || kind === METRICS_PART || kind === METRICS_REPLY);
}

/** In the supervisor: one scrape's collection of every worker's part. */
interface Collection {
  readonly pending: Set<Worker>;
  readonly parts: MetricsSnapshot[];
  readonly finish: () => void;
}

/** The supervisor's half of scrapes: collect from every connected worker, sum, answer. */
function metricsRelay(log: Logger): { onMessage(worker: Worker, message: Message): void; onExit(worker: Worker): void } {
  const collections = new Map<number, Collection>();
  let next = 0;
  const collect = (asker: Worker, askerId: number): void => {
    const id = ++next;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      collections.delete(id);
      const reply = (message: Message): void => {
        if (asker.isConnected()) asker.send(message);
      };
      aggregateSnapshots(collection.parts).then(
        ({ contentType, body }) => reply({ kind: METRICS_REPLY, id: askerId, contentType, body }),
        (error: unknown) => {
          log.error({ err: error }, 'summing the workers\' metrics failed');
          reply({ kind: METRICS_REPLY, id: askerId, error: error instanceof Error ? error.message : String(error) });
        },
      );
    };
    const timer = setTimeout(() => {
      log.warn({ missing: [...collection.pending].map((w) => w.process.pid) }, 'workers did not send their metrics in time; the scrape leaves them out');
      finish();
    }, METRICS_COLLECT_TIMEOUT_MS);
    timer.unref();
    const collection: Collection = { pending: new Set(workers), parts: [], finish };
    collections.set(id, collection);
    for (const worker of workers) worker.send({ kind: METRICS_COLLECT, id } satisfies Message);
    if (workers.length === 0) finish();
  };
  const settle = (collection: Collection, worker: Worker): void => {
    collection.pending.delete(worker);
    if (collection.pending.size === 0) collection.finish();
  };
  return {
    onMessage(worker, message) {
      if (message.kind === METRICS_REQUEST) collect(worker, message.id);
      else if (message.kind === METRICS_PART) {
        const collection = collections.get(message.id);
        if (collection === undefined || !collection.pending.has(worker)) return;
        collection.parts.push(message.snapshot);
        settle(collection, worker);
      }
    },
    onExit(worker) {
      for (const collection of [...collections.values()]) if (collection.pending.has(worker)) settle(collection, worker);
    },
  };
}

export function isWorker(): boolean {
  return cluster.isWorker;
}

/** A worker that died this soon after it started is restarted only after a pause: it may die again at once. */
const QUICK_DEATH_MS = 5000;
const RESTART_PAUSE_MS = 1000;

export function superviseWorkers(config: Config, count: number, log: Logger): void {
  const env: Record<string, string> = { [BOOT_ENV]: randomUUID() };
  const auth = config.auth;
  if (auth?.tokenService !== undefined && auth.token !== undefined && auth.htpasswd !== undefined) {
    // Once, here: N workers generating a missing key file at once would race, and keys kept in memory would differ.
    const { key, generated } = loadSigningKey(auth.tokenService.keyFile);
    if (generated) log.info({ keyFile: auth.tokenService.keyFile ?? '(in memory)', kid: key.kid }, 'generated the token signing key');
    env[SIGNING_KEY_ENV] = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }
  const started = new Map<Worker, number>();
  const listening = new Set<Worker>();
  const metrics = metricsRelay(log);
  let stopping: NodeJS.Signals | undefined;
  const fork = (): void => {
    if (stopping !== undefined) return;
    const worker = cluster.fork(env);
    started.set(worker, Date.now());
    worker.on('message', (message: unknown) => {
      if (isMessage(message)) metrics.onMessage(worker, message);
    });
    // A worker is signalled once it listens (it drains then): one signalled while still loading
    // would die at once, resetting the connections the cluster had already queued for it.
    worker.once('listening', () => {
      listening.add(worker);
      if (stopping !== undefined) worker.process.kill(stopping);
    });
  };
  cluster.on('exit', (worker, code, signal) => {
    metrics.onExit(worker);
    const since = started.get(worker) ?? 0;
    started.delete(worker);
    listening.delete(worker);
    if (stopping !== undefined) {
      if (started.size === 0) {
        log.info('stopped');
        process.exit(0);
      }
      return;
    }
    const pause = Date.now() - since < QUICK_DEATH_MS ? RESTART_PAUSE_MS : 0;
    log.error({ worker: worker.process.pid, code, signal, restartInMs: pause }, 'a worker died; starting another');
    setTimeout(fork, pause).unref();
  });
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping !== undefined) return;
    stopping = signal;
    log.info({ signal, workers: started.size }, 'draining every worker');
    for (const worker of listening) worker.process.kill(signal);
    // A worker that does not finish within its own drain time (and a margin) is killed.
    const limitMs = (signal === 'SIGTERM' ? config.http.drainDelayMs : 0) + config.http.drainTimeoutMs + 5000;
    setTimeout(() => {
      for (const worker of started.keys()) worker.process.kill('SIGKILL');
    }, limitMs).unref();
    if (started.size === 0) process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < count; i++) fork();
  log.info({ workers: count }, 'berth supervising workers');
}

/** In a worker: what the supervisor handed over, and scrapes of every worker. */
export function workerSharing(): NonNullable<AppOptions['workers']> {
  const signingKeyPem = process.env[SIGNING_KEY_ENV];
  delete process.env[SIGNING_KEY_ENV];
  const boot = process.env[BOOT_ENV];
  return {
    signingKeyPem,
    boot,
    metrics: workerMetrics(),
  };
}

function workerMetrics(): NonNullable<NonNullable<AppOptions['workers']>['metrics']> {
  const waiting = new Map<number, { resolve: (r: { contentType: string; body: string }) => void; reject: (e: Error) => void }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage(message) || message.kind !== METRICS_REPLY) return;
    const waiter = waiting.get(message.id);
    waiting.delete(message.id);
    if (waiter === undefined) return;
    if ('error' in message) waiter.reject(new Error(`summing the workers' metrics failed: ${message.error}`));
    else waiter.resolve({ contentType: message.contentType, body: message.body });
  });
  return {
    serve(snapshot) {
      process.on('message', (message: unknown) => {
        if (!isMessage(message) || message.kind !== METRICS_COLLECT) return;
        const { id } = message;
        snapshot().then(
          (metrics) => {
            if (process.connected) process.send?.({ kind: METRICS_PART, id, snapshot: metrics } satisfies Message);
          },
          // An empty part: the scrape goes on without this worker's metrics.
          () => {
            if (process.connected) process.send?.({ kind: METRICS_PART, id, snapshot: [] } satisfies Message);
          },
        );
      });
    },
    render() {
      return new Promise((resolve, reject) => {
        if (!process.connected || process.send === undefined) {
          reject(new Error('the supervisor is gone: no metrics of the other workers'));
          return;
        }
        const id = ++next;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error('the supervisor did not answer the metrics request in time'));
        }, METRICS_REPLY_TIMEOUT_MS);
        timer.unref();
        waiting.set(id, {
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        process.send({ kind: METRICS_REQUEST, id } satisfies Message);
      });
    },
  };
}

/** Tests only (WORKER_PID_HEADER_ENV): the worker's pid on every response. */
export function withWorkerPidHeader(config: Config): Config {
  if (process.env[WORKER_PID_HEADER_ENV] === undefined) return config;
  return { ...config, http: { ...config.http, headers: { ...config.http.headers, [WORKER_PID_HEADER]: [String(process.pid)] } } };
}
