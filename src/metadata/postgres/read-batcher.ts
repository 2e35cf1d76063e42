// Batches the hot single-row reads of the request path (a manifest by tag or digest, a blob of a
// repository, a tag page) into one query per batch, so that 64 concurrent pulls cost a few
// PostgreSQL round trips instead of 64. Every request makes one round trip on SQLite's terms
// otherwise, and on two shared cores that round trip (both processes' syscalls, PostgreSQL's
// executor) is most of the request's cost.
//
// Read-your-writes holds, across instances too: a batch is only ever sent after every read in it
// arrived, so each read runs in a snapshot taken after it was asked for, and sees every write that
// was acknowledged before (to this client or any other). A read never joins a query already on its
// way; it waits for the next batch. At most `maxInFlight` batches of one kind run at once: the
// reads arriving meanwhile gather into the next one.

/** The rows of a batch of keys, each key's row (or undefined) at the key's index. */
export type FetchMany<K, V> = (keys: readonly K[]) => Promise<ReadonlyArray<V | undefined>>;

interface Waiter<V> {
  resolve(value: V | undefined): void;
  reject(error: unknown): void;
}

export class ReadBatcher<K, V> {
  readonly #fetch: FetchMany<K, V>;
  readonly #keyOf: (key: K) => string;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  /** Reads not sent yet, by key (equal keys share one row of the batch). */
  #pending = new Map<string, { readonly key: K; readonly waiters: Waiter<V>[] }>();
  #inFlight = 0;
  #scheduled = false;

  constructor(fetch: FetchMany<K, V>, keyOf: (key: K) => string, options: { readonly maxInFlight: number; readonly maxBatch?: number }) {
    this.#fetch = fetch;
    this.#keyOf = keyOf;
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#maxBatch = options.maxBatch ?? 256;
  }

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const id = this.#keyOf(key);
      const entry = this.#pending.get(id);
      if (entry === undefined) this.#pending.set(id, { key, waiters: [{ resolve, reject }] });
      else entry.waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  /** Sends the pending reads once the reads of this turn of the event loop have arrived. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#send();
    });
  }

  #send(): void {
    while (this.#pending.size > 0 && this.#inFlight < this.#maxInFlight) {
      let batch: Array<{ readonly key: K; readonly waiters: Waiter<V>[] }>;
      if (this.#pending.size <= this.#maxBatch) {
        batch = [...this.#pending.values()];
        this.#pending = new Map();
      } else {
        batch = [];
        for (const [id, entry] of this.#pending) {
          batch.push(entry);
          this.#pending.delete(id);
          if (batch.length === this.#maxBatch) break;
        }
      }
      this.#inFlight++;
      this.#fetch(batch.map((entry) => entry.key)).then(
        (rows) => {
          batch.forEach((entry, i) => {
            for (const waiter of entry.waiters) waiter.resolve(rows[i]);
          });
          this.#done();
        },
        (error: unknown) => {
          for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
          this.#done();
        },
      );
    }
  }

  #done(): void {
    this.#inFlight--;
    // What arrived while the batch was out is sent now: it all arrived after that batch left.
    if (this.#pending.size > 0) this.#send();
  }
}
