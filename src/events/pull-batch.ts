// Pull events, batched. A pull changes nothing, so there is no transaction to write its event in,
// and a row per GET would put a write on the hottest path. Pull events are kept in memory and
// appended in one transaction per batch: at most every FLUSH_MS, or as soon as BATCH_SIZE wait.
// Their durability is weaker than the other events', and said so in docs/operations.md: a crash or
// kill -9 loses the pulls of the last second at most; when the outbox cannot keep up and
// MAX_PENDING are waiting, further pulls are dropped (counted in
// berth_notifications_pull_events_dropped_total) rather than growing memory. Once appended they
// are delivered like every other event.
import type { Logger } from 'pino';
import type { EventStore, OutboxEvent } from '../metadata/event-store.js';

const FLUSH_MS = 1000;
const BATCH_SIZE = 500;
const MAX_PENDING = 10_000;

export class PullBatch {
  readonly #store: EventStore;
  readonly #log: Logger;
  readonly #onDropped: (count: number) => void;
  readonly #onAppended: () => void;
  #pending: OutboxEvent[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #dropped = 0;

  constructor(store: EventStore, log: Logger, onAppended: () => void, onDropped: (count: number) => void) {
    this.#store = store;
    this.#log = log;
    this.#onAppended = onAppended;
    this.#onDropped = onDropped;
  }

  add(event: OutboxEvent): void {
    if (this.#pending.length >= MAX_PENDING) {
      this.#dropped++;
      this.#onDropped(1);
      return;
    }
    this.#pending.push(event);
    if (this.#pending.length >= BATCH_SIZE) void this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.#timer.unref();
    }
  }

  /** Appends what waits (one transaction per batch); resolves when it is in the outbox. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#flushing !== undefined) await this.#flushing;
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0, BATCH_SIZE);
    this.#flushing = this.#store.appendEvents(batch).then(
      () => this.#onAppended(),
      (error: unknown) => {
        // The store is failing: the batch goes back (within the bound) and is tried again.
        const room = MAX_PENDING - this.#pending.length;
        this.#pending.unshift(...batch.slice(0, Math.max(room, 0)));
        if (batch.length > room) this.#onDropped(batch.length - Math.max(room, 0));
        this.#log.warn({ err: error, events: batch.length }, 'appending pull events to the outbox failed; retrying');
      },
    );
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
    if (this.#pending.length > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), this.#pending.length >= BATCH_SIZE ? 0 : FLUSH_MS);
      this.#timer.unref();
    }
  }

  get dropped(): number {
    return this.#dropped;
  }
}
