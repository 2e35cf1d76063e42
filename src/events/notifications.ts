// Webhook notifications (docs/operations.md): the ChangeRecorder the registry, the collector and
// the policies write events through, the pull batch, and one Deliverer per enabled endpoint.
// Without an enabled endpoint there is no Notifications at all, so nothing is built, written or
// sent.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NotificationsConfig } from '../config/config.js';
import type { EventStore, OutboxEvent, RemovalEvents, RemovedFromRepository } from '../metadata/event-store.js';
import type { Change, ChangeRecorder, OriginSource, RequestOrigin, SystemActor } from '../registry/changes.js';
import type { Metrics } from '../telemetry/metrics.js';
import { Deliverer } from './deliverer.js';
import { buildEvent, type EventSource } from './event-builder.js';
import { PullBatch } from './pull-batch.js';

/** How often delivered events are pruned from the outbox. */
const PRUNE_MS = 60_000;
/** A cursor no instance used for this long belongs to an endpoint no longer configured. */
const STALE_ENDPOINT_MS = 7 * 24 * 3600_000;

export interface NotificationsOptions {
  readonly source: Omit<EventSource, 'instanceID'>;
  /** false: record events only (`berth gc`); the server's deliverers send them. */
  readonly deliver: boolean;
}

export class Notifications implements ChangeRecorder {
  readonly #store: EventStore;
  readonly #source: EventSource;
  readonly #deliverers: readonly Deliverer[];
  readonly #pulls: PullBatch;
  readonly #log: Logger;
  readonly includesReferences: boolean;
  readonly recordsPulls: boolean;
  #pokeScheduled = false;
  #pruneTimer: NodeJS.Timeout | undefined;

  constructor(config: NotificationsConfig, store: EventStore, options: NotificationsOptions, log: Logger, metrics: Metrics | undefined) {
    this.#store = store;
    this.#log = log;
    const owner = randomUUID();
    this.#source = { ...options.source, instanceID: owner };
    const enabled = config.endpoints.filter((endpoint) => !endpoint.disabled);
    this.#deliverers = options.deliver ? enabled.map((endpoint) => new Deliverer(endpoint, store, owner, log, metrics)) : [];
    this.includesReferences = config.includeReferences;
    this.recordsPulls = options.deliver && this.#deliverers.some((deliverer) => deliverer.wants('pull'));
    this.#pulls = new PullBatch(store, log, () => this.#poke(), (count) => metrics?.pullEventsDropped(count));
    metrics?.watch({
      notificationBacklog: async () => {
        const now = Date.now();
        const rows = await store.eventBacklog(enabled.map((endpoint) => endpoint.name));
        return rows.map((row) => ({ endpoint: row.endpoint, pending: row.pending, oldestAgeSeconds: row.oldestAt === undefined ? 0 : Math.max(0, (now - row.oldestAt) / 1000) }));
      },
    });
  }

  /** The Notifications for this configuration, or undefined when no endpoint is enabled. */
  static create(config: NotificationsConfig, store: EventStore, options: NotificationsOptions, log: Logger, metrics?: Metrics): Notifications | undefined {
    return config.endpoints.some((endpoint) => !endpoint.disabled) ? new Notifications(config, store, options, log, metrics) : undefined;
  }

  event(change: Change, origin: OriginSource | RequestOrigin | SystemActor | undefined): OutboxEvent {
    // The change commits in the call that takes this row; look for it once that call is over.
    this.#poke();
    return buildEvent(change, origin, this.#source);
  }

  pulled(change: Change, origin: OriginSource | undefined): void {
    this.#pulls.add(buildEvent(change, origin, this.#source));
  }

  /** The event factory of removals by the collector or a policy. */
  removals(actor: SystemActor): RemovalEvents {
    return (removed: RemovedFromRepository) => this.event(changeOf(removed), actor);
  }

  start(): void {
    for (const deliverer of this.#deliverers) {
      this.#log.info({ endpoint: deliverer.name }, 'notification endpoint configured');
      deliverer.start();
    }
    if (this.#deliverers.length > 0) {
      this.#pruneTimer = setInterval(() => {
        this.#store.pruneEvents(STALE_ENDPOINT_MS).catch((error: unknown) => this.#log.warn({ err: error }, 'pruning delivered events failed'));
      }, PRUNE_MS);
      this.#pruneTimer.unref();
    }
  }

  /** Appends the pending pull events, then stops the deliverers (an attempt in flight gets `graceMs`). */
  async close(graceMs: number): Promise<void> {
    clearInterval(this.#pruneTimer);
    for (let attempt = 0; attempt < 3; attempt++) await this.#pulls.flush();
    await Promise.all(this.#deliverers.map((deliverer) => deliverer.stop(graceMs)));
  }

  #poke(): void {
    if (this.#pokeScheduled || this.#deliverers.length === 0) return;
    this.#pokeScheduled = true;
    setImmediate(() => {
      this.#pokeScheduled = false;
      for (const deliverer of this.#deliverers) deliverer.poke();
    });
  }
}

function changeOf(removed: RemovedFromRepository): Change {
  switch (removed.kind) {
    case 'tag':
      return { action: 'delete', kind: 'tag', repository: removed.repository, tag: removed.tag };
    case 'manifest':
      return { action: 'delete', kind: 'manifest', repository: removed.repository, digest: removed.digest };
    case 'blob':
      return { action: 'delete', kind: 'blob', repository: removed.repository, digest: removed.digest };
  }
}
