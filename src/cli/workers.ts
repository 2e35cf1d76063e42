// Several processes serving one port (http.workers), with node:cluster. The supervisor (the primary
// process) serves nothing itself: it loads or generates the token signing key once and hands it to
// every worker, relays each worker's failed logins to the others (auth/failure-limiter.ts), restarts
// a worker that dies, and on SIGTERM or SIGINT passes the signal on and exits when all have drained.
// Everything else the workers share lives in the metadata store (SQLite in WAL mode, one file), as it
// would for several instances: docs/scale-out.md says, per cache and per rule, why that holds.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { WorkerSharing } from '../auth/create-access.js';
import { loadSigningKey } from '../auth/token-keys.js';
import type { Config } from '../config/config.js';

const SIGNING_KEY_ENV = 'BERTH_WORKER_SIGNING_KEY';
/** Set (to anything) by tests only: every response names the worker's pid, so that a test can tell them apart. */
export const WORKER_PID_HEADER_ENV = 'BERTH_TEST_WORKER_PID_HEADER';
export const WORKER_PID_HEADER = 'Berth-Worker-Pid';
const FAILURE = 'berth:login-failure';

interface FailureMessage {
  readonly kind: typeof FAILURE;
  readonly client: string;
}

function isFailure(message: unknown): message is FailureMessage {
  return typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === FAILURE && typeof (message as { client?: unknown }).client === 'string';
}

export function isWorker(): boolean {
  return cluster.isWorker;
}

/** A worker that died this soon after it started is restarted only after a pause: it may die again at once. */
const QUICK_DEATH_MS = 5000;
const RESTART_PAUSE_MS = 1000;

export function superviseWorkers(config: Config, count: number, log: Logger): void {
  const env: Record<string, string> = {};
  const auth = config.auth;
  if (auth?.tokenService !== undefined && auth.token !== undefined && auth.htpasswd !== undefined) {
    // Once, here: N workers generating a missing key file at once would race, and keys kept in memory would differ.
    const { key, generated } = loadSigningKey(auth.tokenService.keyFile);
    if (generated) log.info({ keyFile: auth.tokenService.keyFile ?? '(in memory)', kid: key.kid }, 'generated the token signing key');
    env[SIGNING_KEY_ENV] = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }
  const started = new Map<Worker, number>();
  let stopping = false;
  const fork = (): void => {
    const worker = cluster.fork(env);
    started.set(worker, Date.now());
    worker.on('message', (message: unknown) => {
      if (!isFailure(message)) return;
      for (const other of Object.values(cluster.workers ?? {})) if (other !== undefined && other !== worker && other.isConnected()) other.send(message);
    });
  };
  cluster.on('exit', (worker, code, signal) => {
    const since = started.get(worker) ?? 0;
    started.delete(worker);
    if (stopping) {
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
  for (let i = 0; i < count; i++) fork();
  log.info({ workers: count }, 'berth supervising workers');
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: started.size }, 'draining every worker');
    for (const worker of started.keys()) worker.process.kill(signal);
    // A worker that does not finish within its own drain time (and a margin) is killed.
    const limitMs = (signal === 'SIGTERM' ? config.http.drainDelayMs : 0) + config.http.drainTimeoutMs + 5000;
    setTimeout(() => {
      for (const worker of started.keys()) worker.process.kill('SIGKILL');
    }, limitMs).unref();
    if (started.size === 0) process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** In a worker: what the supervisor handed over, and the relay of failed logins. */
export function workerSharing(): WorkerSharing {
  const signingKeyPem = process.env[SIGNING_KEY_ENV];
  delete process.env[SIGNING_KEY_ENV];
  return {
    signingKeyPem,
    failures: {
      publish: (client) => {
        if (process.connected) process.send?.({ kind: FAILURE, client } satisfies FailureMessage);
      },
      subscribe: (onFailure) => {
        process.on('message', (message: unknown) => {
          if (isFailure(message)) onFailure(message.client);
        });
      },
    },
  };
}

/** Tests only (WORKER_PID_HEADER_ENV): the worker's pid on every response. */
export function withWorkerPidHeader(config: Config): Config {
  if (process.env[WORKER_PID_HEADER_ENV] === undefined) return config;
  return { ...config, http: { ...config.http, headers: { ...config.http.headers, [WORKER_PID_HEADER]: [String(process.pid)] } } };
}
