// Delivers the outbox to one endpoint: at least once, in order per repository, surviving restarts.
// One loop per endpoint and process; a lease in the metadata store lets one instance at a time
// deliver to the endpoint (several instances share the store). The loop takes the events after
// the endpoint's cursor in batches, sends each event in its own envelope (as distribution does),
// the events of one repository one after the other (up to LANES repositories at a time), retries
// each until the endpoint accepts it (2xx or 3xx), and moves the cursor past the batch only when
// all of it was accepted. Consecutive failures reaching `threshold` make every lane wait `backoff`
// before the next attempt. A dead endpoint costs a bounded batch in memory and nothing on the
// request path: pushes only append rows.
import type { Logger } from 'pino';
import type { NotificationEndpoint } from '../config/config.js';
import type { EventStore, StoredEvent } from '../metadata/event-store.js';
import type { Metrics } from '../telemetry/metrics.js';
import { EVENTS_MEDIA_TYPE, eventFilterFields } from './event-builder.js';

const BATCH = 100;
const LANES = 4;
/** How long a lease lasts; renewed when half of it is left. */
export const LEASE_MS = 30_000;
/** How often an idle deliverer looks for events written by other processes. */
const POLL_MS = 1000;

export class Deliverer {
  readonly #endpoint: NotificationEndpoint;
  readonly #store: EventStore;
  readonly #owner: string;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #ignoredMediaTypes: ReadonlySet<string>;
  readonly #ignoredActions: ReadonlySet<string>;
  readonly #headers: Headers;
  #leaseUntil = 0;
  #failures = 0;
  #pausedUntil = 0;
  #stopping = false;
  readonly #stopped = new AbortController();
  /** Sleepers to wake: all of them on stop; those idle (waiting for new events) on poke too. */
  readonly #sleepers = new Map<() => void, boolean>();
  #poked = false;
  #running: Promise<void> | undefined;

  constructor(endpoint: NotificationEndpoint, store: EventStore, owner: string, log: Logger, metrics: Metrics | undefined) {
    this.#endpoint = endpoint;
    this.#store = store;
    this.#owner = owner;
    this.#log = log.child({ endpoint: endpoint.name });
    this.#metrics = metrics;
    this.#ignoredMediaTypes = new Set(endpoint.ignoredMediaTypes);
    this.#ignoredActions = new Set(endpoint.ignoredActions);
    this.#headers = new Headers();
    for (const [name, values] of Object.entries(endpoint.headers)) for (const value of values) this.#headers.append(name, value);
    this.#headers.set('Content-Type', EVENTS_MEDIA_TYPE);
  }

  get name(): string {
    return this.#endpoint.name;
  }

  /** Whether this endpoint receives events of this action at all (pull events are not built for nobody). */
  wants(action: string): boolean {
    return !this.#ignoredActions.has(action);
  }

  start(): void {
    this.#running ??= this.#loop().catch((error: unknown) => this.#log.error({ err: error }, 'notification deliverer stopped'));
  }

  /** New events were appended here: look now rather than at the next poll. */
  poke(): void {
    this.#poked = true;
    for (const [wake, onPoke] of this.#sleepers) if (onPoke) wake();
  }

  /** Stops after the attempt in progress (or aborts it after `graceMs`), and gives the lease up. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    for (const wake of [...this.#sleepers.keys()]) wake();
    const abort = setTimeout(() => this.#stopped.abort(), graceMs);
    await this.#running;
    clearTimeout(abort);
    await this.#store.releaseLease(this.#endpoint.name, this.#owner).catch(() => undefined);
  }

  async #loop(): Promise<void> {
    await this.#store.openEndpoint(this.#endpoint.name);
    while (!this.#stopping) {
      try {
        if (!(await this.#renewLease())) {
          await this.#sleep(POLL_MS); // another instance delivers
          continue;
        }
        const batch = await this.#store.claimBatch(this.#endpoint.name, BATCH);
        if (batch.length === 0) {
          await this.#idle();
          continue;
        }
        for (let i = 0; i < batch.length; i++) this.#metrics?.notificationQueued(this.#endpoint.name);
        if (!(await this.#deliver(batch))) continue;
        const last = batch[batch.length - 1] as StoredEvent;
        if (!(await this.#store.markDelivered(this.#endpoint.name, this.#owner, last.seq))) {
          this.#log.warn('lost the delivery lease; another instance goes on from the last cursor (events may be delivered twice)');
          this.#leaseUntil = 0;
        }
      } catch (error) {
        if (this.#stopping) break;
        this.#log.error({ err: error }, 'notification delivery failed; retrying');
        await this.#sleep(this.#endpoint.backoffMs);
      }
    }
  }

  async #renewLease(): Promise<boolean> {
    if (this.#leaseUntil - Date.now() > LEASE_MS / 2) return true;
    const held = await this.#store.acquireLease(this.#endpoint.name, this.#owner, LEASE_MS);
    this.#leaseUntil = held ? Date.now() + LEASE_MS : 0;
    return held;
  }

  /** Delivers the batch, one lane per repository; false when stopped or the lease was lost first. */
  async #deliver(batch: readonly StoredEvent[]): Promise<boolean> {
    const lanes = new Map<string, StoredEvent[]>();
    for (const event of batch) {
      let lane = lanes.get(event.repository);
      if (lane === undefined) lanes.set(event.repository, (lane = []));
      lane.push(event);
    }
    const queue = [...lanes.values()];
    let complete = true;
    const worker = async (): Promise<void> => {
      for (let lane = queue.shift(); lane !== undefined && complete; lane = queue.shift()) {
        for (const event of lane) {
          if (!(await this.#send(event))) {
            complete = false;
            return;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LANES, queue.length) }, worker));
    return complete;
  }

  /** Sends one event until the endpoint accepts it; false when stopped or the lease was lost. */
  async #send(event: StoredEvent): Promise<boolean> {
    const { action, mediaType } = eventFilterFields(event.payload);
    if (this.#ignoredActions.has(action) || (mediaType !== undefined && this.#ignoredMediaTypes.has(mediaType))) return true;
    const body = `{"events":[${event.payload}]}`;
    for (;;) {
      if (this.#stopping) return false;
      const wait = this.#pausedUntil - Date.now();
      if (wait > 0) {
        await this.#sleep(wait);
        continue;
      }
      if (!(await this.#renewLease())) return false;
      const started = performance.now();
      let outcome: { status: number } | { error: string };
      try {
        const response = await fetch(this.#endpoint.url, {
          method: 'POST',
          headers: this.#headers,
          body,
          signal: AbortSignal.any([AbortSignal.timeout(this.#endpoint.timeoutMs), this.#stopped.signal]),
        });
        await response.arrayBuffer().catch(() => undefined);
        outcome = { status: response.status };
      } catch (error) {
        outcome = { error: (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message };
      }
      this.#metrics?.notificationAttempt(this.#endpoint.name, outcome, (performance.now() - started) / 1000);
      if ('status' in outcome && outcome.status >= 200 && outcome.status < 400) {
        if (this.#failures >= this.#endpoint.threshold) this.#log.info('notification endpoint accepts events again');
        this.#failures = 0;
        return true;
      }
      this.#failures++;
      const reason = 'status' in outcome ? `status ${outcome.status}` : outcome.error;
      if (this.#failures === this.#endpoint.threshold) {
        this.#log.warn({ reason, failures: this.#failures, backoffMs: this.#endpoint.backoffMs }, 'notification endpoint keeps failing; backing off between attempts');
      } else if (this.#failures < this.#endpoint.threshold) {
        this.#log.debug({ reason, seq: event.seq }, 'notification delivery failed; retrying');
      }
      if (this.#failures >= this.#endpoint.threshold) this.#pausedUntil = Date.now() + this.#endpoint.backoffMs;
    }
  }

  async #idle(): Promise<void> {
    if (this.#poked) {
      this.#poked = false;
      return;
    }
    await this.#sleep(POLL_MS, true);
    this.#poked = false;
  }

  #sleep(ms: number, wakeOnPoke = false): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#sleepers.set(done, wakeOnPoke);
    });
  }
}
