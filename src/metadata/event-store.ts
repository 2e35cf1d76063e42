// The notification outbox (docs/operations.md, "Notifications"). An event is a row written in the
// same transaction as the change it reports (the mutating methods of MetadataStore, LifecycleStore
// and PolicyStore take the rows to append), so a crash never loses one and no event reports a
// change that did not commit. Each notification endpoint has a cursor (the last event delivered to
// it) and a lease, so that of several instances sharing the store only one delivers to an endpoint
// at a time. Events are ordered by `seq`, which follows commit order: a reader that sees an event
// sees every event of a lower seq (SQLite: one writer at a time; PostgreSQL must take a lock
// before appending, see the PostgreSQL notes in docs/operations.md).

/** One event to append: its repository (for per-repository order) and its JSON text. */
export interface OutboxEvent {
  readonly repository: string;
  readonly payload: string;
}

export interface StoredEvent extends OutboxEvent {
  readonly seq: number;
  /** When it was appended (ms since the epoch). */
  readonly createdAt: number;
}

/** What a collector or policy removed from a repository, for the event that reports it. */
export type RemovedFromRepository =
  | { readonly kind: 'blob'; readonly repository: string; readonly digest: string }
  | { readonly kind: 'manifest'; readonly repository: string; readonly digest: string }
  | { readonly kind: 'tag'; readonly repository: string; readonly tag: string; readonly digest: string };

/** Makes the event of a removal, inside the removing transaction (undefined: none). */
export type RemovalEvents = (removed: RemovedFromRepository) => OutboxEvent | undefined;

export interface EndpointBacklog {
  readonly endpoint: string;
  /** Events after the endpoint's cursor. */
  readonly pending: number;
  /** Append time of the oldest of them (ms since the epoch), if any. */
  readonly oldestAt: number | undefined;
}

export interface EventStore {
  /** Appends events in a transaction of their own (pull events, batched). */
  appendEvents(events: readonly OutboxEvent[]): Promise<void>;
  /**
   * Makes sure the endpoint has a cursor; a new endpoint starts after the newest event (it is
   * sent what happens from now on, not the history).
   */
  openEndpoint(endpoint: string): Promise<void>;
  /**
   * Takes or renews the endpoint's lease for `owner` until now + leaseMs; false when another
   * owner holds an unexpired lease.
   */
  acquireLease(endpoint: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Gives the lease up (shutdown), so that another instance can take over at once. */
  releaseLease(endpoint: string, owner: string): Promise<void>;
  /** Up to `limit` events after the endpoint's cursor, in seq order. */
  claimBatch(endpoint: string, limit: number): Promise<StoredEvent[]>;
  /**
   * Moves the cursor to `seq` (never back) if `owner` still holds the lease; false when it lost it
   * (then another owner delivers from the cursor: at least once).
   */
  markDelivered(endpoint: string, owner: string, seq: number): Promise<boolean>;
  eventBacklog(endpoints: readonly string[]): Promise<EndpointBacklog[]>;
  /**
   * Deletes the events every endpoint cursor has passed; cursors not used (delivered to, or leased)
   * for `staleMs` belong to endpoints no longer configured and are dropped first. Returns how many
   * events went.
   */
  pruneEvents(staleMs: number): Promise<number>;
}
