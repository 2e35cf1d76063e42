// Whether this instance should receive traffic (/readyz): the metadata store answers and its
// schema is the one this code knows, storage answers, and the instance is not draining. With
// health.storagedriver.enabled a background check calls storage every interval and `threshold`
// consecutive failures make readiness fail until a check succeeds (distribution's meaning);
// otherwise each /readyz calls storage itself. Liveness (/healthz) is only "the process answers".
import type { Logger } from 'pino';
import type { MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import type { Metrics } from '../telemetry/metrics.js';

export interface ReadinessOptions {
  readonly storageCheck: { readonly enabled: boolean; readonly intervalMs: number; readonly threshold: number };
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<'metadata' | 'migrations' | 'storage' | 'draining', string>>;
}

/** Each check gives up after this long: a hung backend is not ready. */
const CHECK_TIMEOUT_MS = 5000;
/** A key nothing stores: stat answers "absent" from a healthy driver. */
const PROBE_KEY = 'healthz';

export class Readiness {
  readonly #metadata: MetadataStore;
  readonly #storage: StorageDriver;
  readonly #options: ReadinessOptions;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  #draining = false;
  #failures = 0;
  #lastError = '';
  #timer: NodeJS.Timeout | undefined;
  #checking = false;

  constructor(metadata: MetadataStore, storage: StorageDriver, options: ReadinessOptions, log: Logger, metrics?: Metrics) {
    this.#metadata = metadata;
    this.#storage = storage;
    this.#options = options;
    this.#log = log;
    this.#metrics = metrics;
  }

  /** Starts the background storage check (when configured). */
  start(): void {
    const check = this.#options.storageCheck;
    if (!check.enabled || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#checkStorageInBackground(), check.intervalMs);
    this.#timer.unref();
    void this.#checkStorageInBackground();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** From now on /readyz answers 503 (SIGTERM); the server keeps serving everything else. */
  startDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  async report(): Promise<ReadinessReport> {
    const [metadata, storage] = await Promise.all([this.#checkMetadata(), this.#storageState()]);
    const checks = { ...metadata, storage, draining: this.#draining ? 'draining' : 'ok' };
    return { ready: Object.values(checks).every((value) => value === 'ok'), checks };
  }

  async #checkMetadata(): Promise<{ metadata: string; migrations: string }> {
    try {
      const status = await withTimeout(this.#metadata.schemaStatus(), 'metadata store');
      const migrations = status.applied === status.expected ? 'ok' : `schema version ${status.applied}, this version of Berth knows ${status.expected}`;
      return { metadata: 'ok', migrations };
    } catch (error) {
      return { metadata: (error as Error).message, migrations: 'unknown' };
    }
  }

  async #storageState(): Promise<string> {
    const check = this.#options.storageCheck;
    if (!check.enabled) return this.#probeStorage();
    return this.#failures >= check.threshold ? `${this.#failures} consecutive failed checks: ${this.#lastError}` : 'ok';
  }

  async #probeStorage(): Promise<string> {
    try {
      await withTimeout(this.#storage.stat(PROBE_KEY), 'storage driver');
      return 'ok';
    } catch (error) {
      return (error as Error).message;
    }
  }

  async #checkStorageInBackground(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const result = await this.#probeStorage();
      const ok = result === 'ok';
      this.#metrics?.storageHealthCheck(ok);
      if (ok) {
        if (this.#failures >= this.#options.storageCheck.threshold) this.#log.info('storage health check passes again');
        this.#failures = 0;
      } else {
        this.#failures++;
        this.#lastError = result;
        if (this.#failures === this.#options.storageCheck.threshold) this.#log.error({ error: result, failures: this.#failures }, 'storage health check failed; /readyz answers 503');
        else this.#log.warn({ error: result, failures: this.#failures }, 'storage health check failed');
      }
    } finally {
      this.#checking = false;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
