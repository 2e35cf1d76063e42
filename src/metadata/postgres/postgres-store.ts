// The metadata store for several instances: PostgreSQL through `pg` (a pool; every statement is a
// named prepared statement, prepared once per connection). Nothing is cached in the process, so a
// write on one instance is seen by the next read on any other (docs/scale-out.md).
//
// Concurrency (READ COMMITTED): the collector takes its review-queue batches with FOR UPDATE SKIP
// LOCKED (collectors on several instances take disjoint batches, never wait for each other) and
// then locks each candidate's blob or manifest row with FOR UPDATE SKIP LOCKED before re-checking,
// in a fresh statement, that nothing references it. A push locks the rows it references FOR SHARE
// before checking them, so either the push sees the row gone (and answers MANIFEST_BLOB_UNKNOWN) or
// the collector skips the candidate (it stays queued). linkBlob touches the review queue before the
// blob row, the order the collector locks them in. Event appenders take an advisory transaction
// lock so that event seq follows commit order (event-store.ts).
import pg from 'pg';
import type { ImportedRepository, ImportStore } from '../import-store.js';
import type { ExportStore, RepositoryContents } from '../export-store.js';
import { SEARCH_SCAN_WINDOW, TAG_COUNT_CAP, type BrowseStore, type ManifestSummary, type RepositorySearch, type RepositorySummary, type TagCursor, type TagDetail } from '../browse.js';
import { GC_RUNS_KEPT, type GcRunRow, type GcRunStore } from '../gc-runs.js';
import type { CachedManifestUse, ManifestPull, ProxyCacheStore } from '../proxy-cache.js';
import type { LoginWindow, SharedStateStore, UpstreamTagConfirmation } from '../shared-state.js';
import type { EndpointBacklog, EventStore, OutboxEvent, RemovalEvents, StoredEvent } from '../event-store.js';
import {
  BLOB_DELETION_LEASE_MS,
  type BlobDeletions,
  type CollectedManifests,
  type GcCandidate,
  type GcQueueStats,
  type LifecycleStore,
  type PolicyStore,
  type TagRow,
  type Usage,
  type UsageScope,
  type UsageStore,
} from '../lifecycle.js';
import {
  BlobCollectedError,
  ProtectedTagError,
  QuotaExceededError,
  type BlobRow,
  type ManifestRow,
  type MetadataStore,
  type NewManifest,
  type Page,
  type PutManifestResult,
  type ReferrerRow,
  type UploadRow,
  type UploadState,
  type UploadStateChange,
} from '../store.js';
import { migrateUp, migrationStatus, SchemaMismatchError } from './migrator.js';
import { ReadBatcher } from './read-batcher.js';

/** The advisory transaction lock event appenders take (seq in commit order). */
const EVENT_APPEND_LOCK = '7161542245436932097';

export interface PostgresOptions {
  /** A connection string, or pg's connection fields. */
  readonly connection: string | pg.ClientConfig;
  readonly pool?: {
    /** Connections at most (pool.maxopen). */
    readonly max?: number;
    /** Idle connections kept (pool.maxidle): idle ones beyond it are closed at once. */
    readonly maxIdle?: number;
    /** A connection is closed after this long (ms; pool.maxlifetime; 0: never). */
    readonly maxLifetimeMs?: number;
  };
  /** Apply pending migrations first (tests, `database.migrate` on start); otherwise refuse them. */
  readonly migrate?: boolean;
}

// int8 and numeric (counts, sums, bigint columns) as numbers: sizes and times stay below 2^53.
const toNumber = (value: string): number => Number(value);
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown => (oid === 20 || oid === 1700 ? toNumber : (pg.types.getTypeParser(oid, format ?? 'text') as unknown))) as typeof pg.types.getTypeParser,
};

type Db = pg.Pool | pg.PoolClient;

/** Batches of one kind of read that may run at once (read-batcher.ts); the reads arriving meanwhile wait for the next. */
const READ_BATCHES_IN_FLIGHT = 4;

interface BatchedReads {
  readonly manifestByTag: ReadBatcher<readonly [string, string], ManifestRow>;
  readonly manifestByDigest: ReadBatcher<readonly [string, string], ManifestRow>;
  readonly repositoryBlob: ReadBatcher<readonly [string, string], BlobRow>;
  readonly tagPage: ReadBatcher<readonly [string, string, number], string[] | null>;
}

const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `berth_${names.size}`;
    names.set(text, name);
  }
  return name;
}

export class PostgresStore implements MetadataStore, LifecycleStore, UsageStore, PolicyStore, EventStore, SharedStateStore, BrowseStore, GcRunStore, ImportStore, ExportStore, ProxyCacheStore {
  readonly #pool: pg.Pool;
  readonly #reads: BatchedReads;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.#reads = this.#batchedReads();
  }

  /**
   * A store whose pool connects on first use, without checking the schema (the caller has, with
   * open() or checkSchema()); for a composition root that is synchronous.
   */
  static connect(options: PostgresOptions): PostgresStore {
    return new PostgresStore(PostgresStore.#createPool(options));
  }

  /** Checks the schema once: refuses (SchemaMismatchError) one it does not know, naming the command. */
  static async checkSchema(options: PostgresOptions): Promise<void> {
    const store = await PostgresStore.open(options);
    await store.close();
  }

  static #createPool(options: PostgresOptions): pg.Pool {
    const base: pg.PoolConfig = typeof options.connection === 'string' ? { connectionString: options.connection } : { ...options.connection };
    const pool = new pg.Pool({
      ...base,
      types: TYPES,
      max: options.pool?.max ?? 10,
      ...(options.pool?.maxIdle === 0 ? { idleTimeoutMillis: 1 } : {}),
      maxLifetimeSeconds: Math.ceil((options.pool?.maxLifetimeMs ?? 0) / 1000),
    });
    pool.on('error', () => {
      // An idle connection dropped by the server: the pool discards it; the next query reconnects.
    });
    return pool;
  }

  /** Connects and checks the schema: refuses (SchemaMismatchError) one it does not know. */
  static async open(options: PostgresOptions): Promise<PostgresStore> {
    const pool = PostgresStore.#createPool(options);
    try {
      if (options.migrate === true) await migrateUp(pool);
      const status = await migrationStatus(pool);
      if (status.applied !== status.expected) throw new SchemaMismatchError(status);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresStore(pool);
  }

  async #rows<T>(db: Db, text: string, values: readonly unknown[] = []): Promise<T[]> {
    const result = await db.query({ name: statementName(text), text, values: values as unknown[] });
    return result.rows as T[];
  }

  async #row<T>(db: Db, text: string, values: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.#rows<T>(db, text, values))[0];
  }

  async #run(db: Db, text: string, values: readonly unknown[] = []): Promise<number> {
    const result = await db.query({ name: statementName(text), text, values: values as unknown[] });
    return result.rowCount ?? 0;
  }

  /** Runs work in a transaction; with rollback, it is rolled back and its result returned. */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>, rollback = false): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      try {
        const result = await work(client);
        await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  async #appendEvents(client: pg.PoolClient, events: readonly OutboxEvent[] | undefined, now: number): Promise<void> {
    if (events === undefined || events.length === 0) return;
    await this.#rows(client, 'SELECT pg_advisory_xact_lock($1)', [EVENT_APPEND_LOCK]);
    await this.#run(
      client,
      'INSERT INTO event_outbox (repository, payload, created_at) SELECT r, p, $3 FROM unnest($1::text[], $2::text[]) AS e (r, p)',
      [events.map((event) => event.repository), events.map((event) => event.payload), now],
    );
  }

  async #repositoryId(db: Db, name: string): Promise<number | undefined> {
    return (await this.#row<{ id: number }>(db, 'SELECT id FROM repositories WHERE name = $1', [name]))?.id;
  }

  async #ensureRepository(client: pg.PoolClient, name: string, now: number): Promise<number> {
    const id = await this.#repositoryId(client, name);
    if (id !== undefined) return id;
    const inserted = await this.#row<{ id: number }>(client, 'INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id', [name, now]);
    if (inserted !== undefined) return inserted.id;
    const existing = await this.#repositoryId(client, name);
    if (existing === undefined) throw new Error(`metadata: repository ${name} vanished while being created`);
    return existing;
  }

  async hasRepository(repository: string): Promise<boolean> {
    return (await this.#repositoryId(this.#pool, repository)) !== undefined;
  }

  getRepositoryBlob(repository: string, digest: string): Promise<BlobRow | undefined> {
    return this.#reads.repositoryBlob.load([repository, digest]);
  }

  getBlob(digest: string): Promise<BlobRow | undefined> {
    return this.#row<BlobRow>(this.#pool, 'SELECT digest, size FROM blobs WHERE digest = $1', [digest]);
  }

  linkBlob(repository: string, blob: BlobRow, completedUpload?: string, bytesPresentSince?: number, events?: readonly OutboxEvent[]): Promise<void> {
    const now = Date.now();
    return this.#transaction(async (client) => {
      if (completedUpload !== undefined) await this.#run(client, 'DELETE FROM uploads WHERE id = $1', [completedUpload]);
      // The review queue first: the collector holds a candidate's queue row before its blob row.
      await this.#run(
        client,
        `INSERT INTO gc_blob_review_queue (digest, event_at, event) VALUES ($1, $2, 'blob_linked')
         ON CONFLICT (digest) DO UPDATE SET event_at = greatest(gc_blob_review_queue.event_at, excluded.event_at), event = excluded.event`,
        [blob.digest, now],
      );
      const repositoryId = await this.#ensureRepository(client, repository, now);
      const created = await this.#run(client, 'INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING', [blob.digest, blob.size, now]);
      if (created > 0) {
        const collecting = await this.#row(
          client,
          `SELECT 1 FROM gc_blob_deletions WHERE digest = $1 AND coalesce(finished_at, started_at + ${BLOB_DELETION_LEASE_MS}) >= $2`,
          [blob.digest, bytesPresentSince ?? now],
        );
        if (collecting !== undefined) throw new BlobCollectedError(blob.digest);
      }
      await this.#run(client, 'INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [repositoryId, blob.digest, now]);
      await this.#appendEvents(client, events, now);
    });
  }

  unlinkBlob(repository: string, digest: string, events?: readonly OutboxEvent[]): Promise<boolean> {
    return this.#transaction(async (client) => {
      const changes = await this.#run(client, 'DELETE FROM repository_blobs WHERE digest = $1 AND repository_id = (SELECT id FROM repositories WHERE name = $2)', [digest, repository]);
      if (changes > 0) await this.#appendEvents(client, events, Date.now());
      return changes > 0;
    });
  }

  getManifestByDigest(repository: string, digest: string): Promise<ManifestRow | undefined> {
    return this.#reads.manifestByDigest.load([repository, digest]);
  }

  getManifestByTag(repository: string, tag: string): Promise<ManifestRow | undefined> {
    return this.#reads.manifestByTag.load([repository, tag]);
  }

  /** The batched reads of the request path (read-batcher.ts): one query per batch of pairs. */
  #batchedReads(): BatchedReads {
    const pairs = <V>(text: string) => async (keys: readonly (readonly [string, string])[]): Promise<Array<V | undefined>> => {
      const rows = await this.#rows<V & { i: number }>(this.#pool, text, [keys.map((key) => key[0]), keys.map((key) => key[1])]);
      const out = new Array<V | undefined>(keys.length);
      for (const { i, ...row } of rows) out[i - 1] = row as V;
      return out;
    };
    const pairKey = (key: readonly [string, string]): string => `${key[0]}\0${key[1]}`;
    const options = { maxInFlight: READ_BATCHES_IN_FLIGHT };
    return {
      manifestByTag: new ReadBatcher(
        pairs<ManifestRow>(
          `SELECT k.i, m.digest, m.media_type AS "mediaType", m.payload
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (repository, tag, i)
           JOIN repositories r ON r.name = k.repository
           JOIN tags t ON t.repository_id = r.id AND t.name = k.tag
           JOIN manifests m ON m.id = t.manifest_id`,
        ),
        pairKey,
        options,
      ),
      manifestByDigest: new ReadBatcher(
        pairs<ManifestRow>(
          `SELECT k.i, m.digest, m.media_type AS "mediaType", m.payload
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (repository, digest, i)
           JOIN repositories r ON r.name = k.repository
           JOIN manifests m ON m.digest = k.digest
           JOIN repository_manifests rm ON rm.manifest_id = m.id AND rm.repository_id = r.id`,
        ),
        pairKey,
        options,
      ),
      repositoryBlob: new ReadBatcher(
        pairs<BlobRow>(
          `SELECT k.i, b.digest, b.size
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (repository, digest, i)
           JOIN repositories r ON r.name = k.repository
           JOIN repository_blobs rb ON rb.repository_id = r.id AND rb.digest = k.digest
           JOIN blobs b ON b.digest = rb.digest`,
        ),
        pairKey,
        options,
      ),
      // Pages differ in their bounds: equal pages (the same repository, after, limit) share a
      // query; different ones in a batch run side by side.
      tagPage: new ReadBatcher<readonly [string, string, number], string[] | null>(
        (keys) => Promise.all(keys.map(([repository, after, limit]) => this.#tagPage(repository, after, limit))),
        (key) => `${key[0]}\0${key[1]}\0${key[2]}`,
        options,
      ),
    };
  }

  putManifest(manifest: NewManifest, events?: readonly OutboxEvent[]): Promise<PutManifestResult> {
    const now = Date.now();
    return this.#transaction((client) => this.#putManifestIn(client, manifest, events, now)).catch((error: unknown) => {
      if (error instanceof ImmutableTagRefusal) return { ok: false, immutable: true, current: error.current } as const;
      throw error;
    });
  }

  /** putManifest inside the caller's transaction (ImmutableTagRefusal: the caller rolls back). */
  async #putManifestIn(client: pg.PoolClient, manifest: NewManifest, events: readonly OutboxEvent[] | undefined, now: number): Promise<PutManifestResult> {
    {
      const repositoryId = await this.#ensureRepository(client, manifest.repository, now);
      // Lock what the manifest references (FOR SHARE, in digest order), then check it in a fresh statement.
      const blobs = [...new Set(manifest.blobs)].sort();
      if (blobs.length > 0 && manifest.fromUpstream !== true) {
        await this.#rows(client, 'SELECT 1 FROM blobs WHERE digest = ANY($1::text[]) ORDER BY digest FOR SHARE', [blobs]);
        const present = await this.#rows<{ digest: string }>(client, 'SELECT digest FROM repository_blobs WHERE repository_id = $1 AND digest = ANY($2::text[])', [repositoryId, blobs]);
        const found = new Set(present.map((row) => row.digest));
        const missing = manifest.blobs.find((digest) => !found.has(digest));
        if (missing !== undefined) return { ok: false, missing: 'blob', digest: missing };
      }
      const children = [...new Set(manifest.manifests)].sort();
      if (children.length > 0 && manifest.fromUpstream !== true) {
        await this.#rows(client, 'SELECT 1 FROM manifests WHERE digest = ANY($1::text[]) ORDER BY digest FOR SHARE', [children]);
        const present = await this.#rows<{ digest: string }>(
          client,
          'SELECT m.digest FROM repository_manifests rm JOIN manifests m ON m.id = rm.manifest_id WHERE rm.repository_id = $1 AND m.digest = ANY($2::text[])',
          [repositoryId, children],
        );
        const found = new Set(present.map((row) => row.digest));
        const missing = manifest.manifests.find((digest) => !found.has(digest));
        if (missing !== undefined) return { ok: false, missing: 'manifest', digest: missing };
      }
      // Quotas: a transaction-scoped advisory lock per quota scope (in name order) serializes the
      // pushes into one scope across instances until commit; usage is then read in a fresh statement.
      const quotas = [...(manifest.quotas ?? [])].sort((a, b) => `${a.per}:${a.scope}`.localeCompare(`${b.per}:${b.scope}`));
      for (const quota of quotas) {
        await this.#run(client, 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`berth-quota:${quota.per}:${quota.scope}`]);
      }
      for (const quota of quotas) {
        const scope = quota.per === 'repository' ? { repository: quota.scope } : { namespace: quota.scope };
        const added = await this.#increase(client, scope, manifest.digest, manifest.payload.length, manifest.blobs);
        if (added === 0) continue;
        const used = await this.#usage(client, scope);
        if (used.blobBytes + used.manifestBytes + added > quota.limitBytes) throw new QuotaExceededError(quota.scope, quota.limitBytes, used.blobBytes + used.manifestBytes, added);
      }
      let manifestId = (await this.#row<{ id: number }>(client, 'SELECT id FROM manifests WHERE digest = $1 FOR SHARE', [manifest.digest]))?.id;
      if (manifestId === undefined) {
        manifestId = (
          await this.#row<{ id: number }>(
            client,
            `INSERT INTO manifests (digest, media_type, size, payload, artifact_type, annotations, subject, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (digest) DO NOTHING RETURNING id`,
            [manifest.digest, manifest.mediaType, manifest.payload.length, manifest.payload, manifest.artifactType, manifest.annotations, manifest.subject, now],
          )
        )?.id;
        if (manifestId === undefined) {
          // Another push stored it first (and committed): use that row.
          manifestId = (await this.#row<{ id: number }>(client, 'SELECT id FROM manifests WHERE digest = $1 FOR SHARE', [manifest.digest]))?.id;
          if (manifestId === undefined) throw new Error(`metadata: manifest ${manifest.digest} vanished while being stored`);
        } else {
          const kinds = [...manifest.blobs.map(() => 'blob'), ...manifest.manifests.map(() => 'manifest')];
          if (kinds.length > 0) {
            await this.#run(
              client,
              'INSERT INTO manifest_references (manifest_id, child, kind) SELECT $1, c, k FROM unnest($2::text[], $3::text[]) AS r (c, k) ON CONFLICT DO NOTHING',
              [manifestId, [...manifest.blobs, ...manifest.manifests], kinds],
            );
          }
        }
      }
      await this.#run(client, 'INSERT INTO repository_manifests (repository_id, manifest_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [repositoryId, manifestId, now]);
      if (manifest.tag !== null) {
        if (manifest.immutableTag === true) {
          const current = await this.#row<{ digest: string }>(
            client,
            'SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = $1 AND t.name = $2 FOR SHARE OF t',
            [repositoryId, manifest.tag],
          );
          if (current !== undefined && current.digest !== manifest.digest) throw new ImmutableTagRefusal(current.digest);
        }
        await this.#run(
          client,
          `INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`,
          [repositoryId, manifest.tag, manifestId, now],
        );
      }
      await this.#appendEvents(client, events, now);
      return { ok: true };
    }
  }

  deleteManifest(repository: string, digest: string, events?: readonly OutboxEvent[], isProtected?: (tag: string) => boolean): Promise<boolean> {
    return this.#transaction(async (client) => {
      const repositoryId = await this.#repositoryId(client, repository);
      const manifestId = (await this.#row<{ id: number }>(client, 'SELECT id FROM manifests WHERE digest = $1', [digest]))?.id;
      if (repositoryId === undefined || manifestId === undefined) return false;
      // Lock the membership row first: a tag being added to the manifest holds a key-share lock
      // on it (the tags foreign key), so this waits for that PUT to commit, and later ones wait for
      // this delete. The tags are then checked as they are removed (every tag committed by now is
      // among them); a protected one throws, which rolls the whole delete back.
      await this.#run(client, 'SELECT 1 FROM repository_manifests WHERE repository_id = $1 AND manifest_id = $2 FOR UPDATE', [repositoryId, manifestId]);
      const removed = await this.#rows<{ name: string }>(client, 'DELETE FROM tags WHERE repository_id = $1 AND manifest_id = $2 RETURNING name', [repositoryId, manifestId]);
      const kept = isProtected === undefined ? undefined : removed.map((row) => row.name).sort().find(isProtected);
      if (kept !== undefined) throw new ProtectedTagError(kept);
      // A removed tag's upstream confirmation (a proxied repository) goes with it.
      if (removed.length > 0) await this.#run(client, 'DELETE FROM upstream_tag_confirmations WHERE repository = $1 AND tag = ANY($2::text[])', [repository, removed.map((row) => row.name)]);
      const deleted = (await this.#run(client, 'DELETE FROM repository_manifests WHERE repository_id = $1 AND manifest_id = $2', [repositoryId, manifestId])) > 0;
      if (deleted) await this.#appendEvents(client, events, Date.now());
      return deleted;
    });
  }

  deleteTag(repository: string, tag: string, events?: readonly OutboxEvent[]): Promise<boolean> {
    return this.#transaction(async (client) => {
      const changes = await this.#run(client, 'DELETE FROM tags WHERE name = $1 AND repository_id = (SELECT id FROM repositories WHERE name = $2)', [tag, repository]);
      if (changes > 0) {
        await this.#run(client, 'DELETE FROM upstream_tag_confirmations WHERE repository = $1 AND tag = $2', [repository, tag]);
        await this.#appendEvents(client, events, Date.now());
      }
      return changes > 0;
    });
  }

  async listTagsOfManifest(repository: string, digest: string): Promise<string[]> {
    const rows = await this.#rows<{ name: string }>(
      this.#pool,
      `SELECT t.name FROM repositories r
         JOIN tags t ON t.repository_id = r.id
         JOIN manifests m ON m.id = t.manifest_id AND m.digest = $1
       WHERE r.name = $2 ORDER BY t.name`,
      [digest, repository],
    );
    return rows.map((row) => row.name);
  }

  async listTags(repository: string, page: Page): Promise<string[] | undefined> {
    const tags = await this.#reads.tagPage.load([repository, page.after ?? '', page.limit]);
    // A shared page: each caller gets its own array.
    return tags === null || tags === undefined ? undefined : [...tags];
  }

  /** One page of tags after `after`; null when the repository does not exist. */
  async #tagPage(repository: string, after: string, limit: number): Promise<string[] | null> {
    // One query: the repository's existence comes with the page (a null name when it has no tag after `after`).
    const rows = await this.#rows<{ name: string | null }>(
      this.#pool,
      `SELECT t.name FROM repositories r LEFT JOIN LATERAL (
         SELECT name FROM tags WHERE repository_id = r.id AND name > $2 ORDER BY name LIMIT $3) t ON true
       WHERE r.name = $1 ORDER BY t.name`,
      [repository, after, limit],
    );
    if (rows.length === 0) return null;
    return rows.flatMap((row) => (row.name === null ? [] : [row.name]));
  }

  async listRepositories(page: Page): Promise<string[]> {
    const rows = await this.#rows<{ name: string }>(
      this.#pool,
      `SELECT name FROM repositories r WHERE name > $1
         AND EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = r.id)
       ORDER BY name LIMIT $2`,
      [page.after ?? '', page.limit],
    );
    return rows.map((row) => row.name);
  }

  listReferrers(repository: string, subject: string, artifactType?: string): Promise<ReferrerRow[]> {
    return this.#rows<ReferrerRow>(
      this.#pool,
      `SELECT m.digest, m.media_type AS "mediaType", m.size, m.artifact_type AS "artifactType", m.annotations
         FROM manifests m
         JOIN repository_manifests rm ON rm.manifest_id = m.id
         JOIN repositories r ON r.id = rm.repository_id AND r.name = $1
       WHERE m.subject = $2 AND ($3::text IS NULL OR m.artifact_type = $3)
       ORDER BY m.digest`,
      [repository, subject, artifactType ?? null],
    );
  }

  async createUpload(upload: UploadRow): Promise<void> {
    await this.#run(this.#pool, 'INSERT INTO uploads (id, repository, started_at) VALUES ($1, $2, $3)', [upload.id, upload.repository, upload.startedAt]);
  }

  getUpload(repository: string, id: string): Promise<UploadRow | undefined> {
    return this.#row<UploadRow>(this.#pool, 'SELECT id, repository, started_at AS "startedAt" FROM uploads WHERE id = $1 AND repository = $2', [id, repository]);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.#run(this.#pool, 'DELETE FROM uploads WHERE id = $1', [id]);
  }

  async hasUpload(id: string): Promise<boolean> {
    return (await this.#row(this.#pool, 'SELECT 1 FROM uploads WHERE id = $1', [id])) !== undefined;
  }

  getUploadState(id: string): Promise<UploadState | undefined> {
    return this.#row<UploadState>(
      this.#pool,
      'SELECT hashed_offset AS "offset", hash_state AS "hashState", writer, writer_until AS "writerUntil", version FROM uploads WHERE id = $1',
      [id],
    );
  }

  async casUploadState(id: string, version: number, next: UploadStateChange): Promise<boolean> {
    const changed = await this.#run(
      this.#pool,
      'UPDATE uploads SET hashed_offset = $1, hash_state = $2, writer = $3, writer_until = $4, version = version + 1 WHERE id = $5 AND version = $6',
      [next.offset, next.hashState, next.writer, next.writerUntil, id, version],
    );
    return changed === 1;
  }

  // ---- shared state (SharedStateStore) ----

  async sharedValue(name: string, candidate: string): Promise<string> {
    await this.#run(this.#pool, 'INSERT INTO shared_values (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [name, candidate, Date.now()]);
    const row = await this.#row<{ value: string }>(this.#pool, 'SELECT value FROM shared_values WHERE name = $1', [name]);
    if (row === undefined) throw new Error(`metadata: shared value ${name} vanished`);
    return row.value;
  }

  async countLoginFailure(client: string, now: number, windowMs: number): Promise<LoginWindow> {
    const row = await this.#row<LoginWindow>(
      this.#pool,
      `INSERT INTO login_failures AS f (client, window_start, failures) VALUES ($1, $2, 1)
       ON CONFLICT (client) DO UPDATE SET
         failures = CASE WHEN f.window_start > excluded.window_start - $3 THEN f.failures + 1 ELSE 1 END,
         window_start = CASE WHEN f.window_start > excluded.window_start - $3 THEN f.window_start ELSE excluded.window_start END
       RETURNING window_start AS start, failures`,
      [client, now, windowMs],
    );
    if (row === undefined) throw new Error('metadata: no login window returned');
    return row;
  }

  loginWindow(client: string, now: number, windowMs: number): Promise<LoginWindow | undefined> {
    return this.#row<LoginWindow>(this.#pool, 'SELECT window_start AS start, failures FROM login_failures WHERE client = $1 AND window_start > $2', [client, now - windowMs]);
  }

  pruneLoginWindows(now: number, windowMs: number, limit: number): Promise<number> {
    return this.#run(this.#pool, 'DELETE FROM login_failures WHERE client IN (SELECT client FROM login_failures WHERE window_start <= $1 LIMIT $2)', [now - windowMs, limit]);
  }

  async claimWorkLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const changed = await this.#run(
      this.#pool,
      `INSERT INTO work_leases AS l (name, holder, until) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
       WHERE l.until <= $4 OR l.holder = excluded.holder`,
      [name, holder, now + ttlMs, now],
    );
    return changed === 1;
  }

  async releaseWorkLease(name: string, holder: string): Promise<void> {
    await this.#run(this.#pool, 'DELETE FROM work_leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async recordManifestPulls(pulls: readonly ManifestPull[]): Promise<void> {
    if (pulls.length === 0) return;
    // One statement for the batch; a later time never moves back (another instance's flush).
    await this.#run(
      this.#pool,
      `UPDATE repository_manifests rm SET last_pulled_at = p.at
       FROM unnest($1::text[], $2::text[], $3::bigint[]) AS p (repository, digest, at)
       JOIN repositories r ON r.name = p.repository JOIN manifests m ON m.digest = p.digest
       WHERE rm.repository_id = r.id AND rm.manifest_id = m.id AND (rm.last_pulled_at IS NULL OR rm.last_pulled_at < p.at)`,
      [pulls.map((pull) => pull.repository), pulls.map((pull) => pull.digest), pulls.map((pull) => pull.at)],
    );
  }

  async leastRecentlyUsed(prefix: string, usedBefore: number | undefined, limit: number): Promise<CachedManifestUse[]> {
    // A prefix ends in '/': its names sort from it up to the same text ending in '0' (the next byte).
    const end = prefix === '' ? '' : `${prefix.slice(0, -1)}0`;
    // The page first, then the sizes of its rows only.
    return this.#rows<CachedManifestUse>(
      this.#pool,
      `WITH page AS (
         SELECT r.name AS repository, m.id AS manifest_id, m.digest, coalesce(rm.last_pulled_at, rm.created_at) AS used_at
         FROM repository_manifests rm JOIN repositories r ON r.id = rm.repository_id JOIN manifests m ON m.id = rm.manifest_id
         WHERE ($1 = '' OR (r.name >= $1 AND r.name < $2)) AND ($3::bigint IS NULL OR coalesce(rm.last_pulled_at, rm.created_at) < $3)
         ORDER BY 4, r.name, m.digest LIMIT $4)
       SELECT p.repository, p.digest, p.used_at AS "usedAt",
         length(m.payload) + coalesce((SELECT sum(b.size) FROM manifest_references mr JOIN blobs b ON b.digest = mr.child WHERE mr.manifest_id = p.manifest_id AND mr.kind = 'blob'), 0) AS bytes
       FROM page p JOIN manifests m ON m.id = p.manifest_id
       ORDER BY p.used_at, p.repository, p.digest`,
      [prefix, end, usedBefore ?? null, limit],
    );
  }

  async confirmUpstreamTag(repository: string, tag: string, digest: string, at: number): Promise<void> {
    // A later confirmation never goes back in time (two instances confirming at once).
    await this.#run(
      this.#pool,
      `INSERT INTO upstream_tag_confirmations AS c (repository, tag, digest, confirmed_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, confirmed_at = excluded.confirmed_at
       WHERE excluded.confirmed_at >= c.confirmed_at`,
      [repository, tag, digest, at],
    );
  }

  async upstreamTagConfirmation(repository: string, tag: string): Promise<UpstreamTagConfirmation | undefined> {
    const row = await this.#row<{ digest: string; at: string }>(this.#pool, 'SELECT digest, confirmed_at AS at FROM upstream_tag_confirmations WHERE repository = $1 AND tag = $2', [repository, tag]);
    return row === undefined ? undefined : { digest: row.digest, at: Number(row.at) };
  }

  listUploadsStartedBefore(time: number, limit: number): Promise<UploadRow[]> {
    return this.#rows<UploadRow>(this.#pool, 'SELECT id, repository, started_at AS "startedAt" FROM uploads WHERE started_at < $1 ORDER BY started_at LIMIT $2', [time, limit]);
  }

  async countUploads(): Promise<number> {
    return (await this.#row<{ n: number }>(this.#pool, 'SELECT count(*) AS n FROM uploads'))?.n ?? 0;
  }

  schemaStatus(): Promise<{ readonly applied: number; readonly expected: number }> {
    return migrationStatus(this.#pool);
  }

  // ---- lifecycle (LifecycleStore; docs/gc.md) ----

  collectManifests(cutoff: number, limit: number, dryRun: boolean): Promise<CollectedManifests> {
    return this.#transaction(async (client) => {
      const due = await this.#rows<{ digest: string }>(
        client,
        'SELECT digest FROM gc_manifest_review_queue WHERE event_at <= $1 ORDER BY event_at LIMIT $2 FOR UPDATE SKIP LOCKED',
        [cutoff, limit],
      );
      const collected: GcCandidate[] = [];
      for (const { digest } of due) {
        const row = await this.#row<{ id: number; size: number }>(client, 'SELECT id, size FROM manifests WHERE digest = $1 FOR UPDATE SKIP LOCKED', [digest]);
        if (row === undefined && (await this.#row(client, 'SELECT 1 FROM manifests WHERE digest = $1', [digest])) !== undefined) continue; // a push holds it: stays queued
        const eligible =
          row !== undefined &&
          (await this.#row(client, 'SELECT 1 FROM repository_manifests WHERE manifest_id = $1', [row.id])) === undefined &&
          (await this.#row(client, "SELECT 1 FROM manifest_references WHERE child = $1 AND kind = 'manifest'", [digest])) === undefined;
        if (eligible) collected.push({ digest, size: row.size });
        if (dryRun) continue;
        if (eligible) {
          await this.#run(client, 'DELETE FROM manifest_references WHERE manifest_id = $1', [row.id]);
          await this.#run(client, 'DELETE FROM manifests WHERE id = $1', [row.id]);
        }
        await this.#run(client, 'DELETE FROM gc_manifest_review_queue WHERE digest = $1', [digest]);
      }
      return { collected, examined: due.length };
    }, dryRun);
  }

  beginBlobDeletions(cutoff: number, limit: number, dryRun: boolean, events?: RemovalEvents): Promise<BlobDeletions> {
    return this.#transaction(async (client) => {
      const now = Date.now();
      const due = await this.#rows<{ digest: string }>(
        client,
        'SELECT digest FROM gc_blob_review_queue WHERE event_at <= $1 ORDER BY event_at LIMIT $2 FOR UPDATE SKIP LOCKED',
        [cutoff, limit],
      );
      const deleting: GcCandidate[] = [];
      for (const { digest } of due) {
        const row = await this.#row<{ size: number }>(client, 'SELECT size FROM blobs WHERE digest = $1 FOR UPDATE SKIP LOCKED', [digest]);
        if (row === undefined && (await this.#row(client, 'SELECT 1 FROM blobs WHERE digest = $1', [digest])) !== undefined) continue; // a push holds it: stays queued
        const eligible = row !== undefined && (await this.#row(client, "SELECT 1 FROM manifest_references WHERE child = $1 AND kind = 'blob'", [digest])) === undefined;
        if (eligible) deleting.push({ digest, size: row.size });
        if (dryRun) continue;
        if (eligible) {
          if (events !== undefined) {
            const repositories = await this.#rows<{ name: string }>(
              client,
              'SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE rb.digest = $1 ORDER BY r.name',
              [digest],
            );
            await this.#appendEvents(
              client,
              repositories.map(({ name }) => events({ kind: 'blob', repository: name, digest })).filter((event): event is OutboxEvent => event !== undefined),
              now,
            );
          }
          await this.#run(client, 'DELETE FROM repository_blobs WHERE digest = $1', [digest]);
          await this.#run(client, 'DELETE FROM blobs WHERE digest = $1', [digest]);
          await this.#run(
            client,
            `INSERT INTO gc_blob_deletions (digest, size, started_at, finished_at) VALUES ($1, $2, $3, NULL)
             ON CONFLICT (digest) DO UPDATE SET size = excluded.size, started_at = excluded.started_at, finished_at = NULL`,
            [digest, row.size, now],
          );
        }
        await this.#run(client, 'DELETE FROM gc_blob_review_queue WHERE digest = $1', [digest]);
      }
      return { deleting, examined: due.length };
    }, dryRun);
  }

  beginOrphanDeletion(digest: string, size: number): Promise<boolean> {
    return this.#transaction(async (client) => {
      const now = Date.now();
      // The deletion record first (locks its key), then the check: linkBlob sees it or we see the row.
      const existing = await this.#row<{ running: boolean }>(
        client,
        `SELECT finished_at IS NULL AND started_at + ${BLOB_DELETION_LEASE_MS} > $2 AS running FROM gc_blob_deletions WHERE digest = $1 FOR UPDATE`,
        [digest, now],
      );
      if (existing?.running === true) return false;
      if ((await this.#row(client, 'SELECT 1 FROM blobs WHERE digest = $1', [digest])) !== undefined) return false;
      await this.#run(
        client,
        `INSERT INTO gc_blob_deletions (digest, size, started_at, finished_at) VALUES ($1, $2, $3, NULL)
         ON CONFLICT (digest) DO UPDATE SET size = excluded.size, started_at = excluded.started_at, finished_at = NULL`,
        [digest, size, now],
      );
      return true;
    });
  }

  async finishBlobDeletions(digests: readonly string[]): Promise<void> {
    if (digests.length === 0) return;
    await this.#run(this.#pool, 'UPDATE gc_blob_deletions SET finished_at = $1 WHERE digest = ANY($2::text[]) AND finished_at IS NULL', [Date.now(), [...digests]]);
  }

  unfinishedBlobDeletions(limit: number): Promise<{ digest: string; size: number; startedAt: number }[]> {
    return this.#rows(this.#pool, 'SELECT digest, size, started_at AS "startedAt" FROM gc_blob_deletions WHERE finished_at IS NULL ORDER BY started_at LIMIT $1', [limit]);
  }

  renewBlobDeletion(digest: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      await this.#rows(client, 'SELECT 1 FROM gc_blob_deletions WHERE digest = $1 FOR UPDATE', [digest]);
      if ((await this.#row(client, 'SELECT 1 FROM blobs WHERE digest = $1', [digest])) !== undefined) {
        await this.#run(client, 'DELETE FROM gc_blob_deletions WHERE digest = $1', [digest]);
        return false;
      }
      return (await this.#run(client, 'UPDATE gc_blob_deletions SET started_at = $1, finished_at = NULL WHERE digest = $2', [Date.now(), digest])) > 0;
    });
  }

  async pruneBlobDeletions(finishedBefore: number): Promise<void> {
    await this.#run(this.#pool, 'DELETE FROM gc_blob_deletions WHERE finished_at IS NOT NULL AND finished_at < $1', [finishedBefore]);
  }

  async gcQueueStats(): Promise<GcQueueStats> {
    const row = await this.#row<GcQueueStats>(
      this.#pool,
      `SELECT (SELECT count(*) FROM gc_blob_review_queue) AS blobs, (SELECT count(*) FROM gc_manifest_review_queue) AS manifests,
              (SELECT count(*) FROM gc_blob_deletions WHERE finished_at IS NULL) AS "blobDeletionsInProgress"`,
    );
    return row ?? { blobs: 0, manifests: 0, blobDeletionsInProgress: 0 };
  }

  // ---- usage (UsageStore; docs/lifecycle.md) ----

  /** The repositories in scope, as a condition on `r` with its parameters starting at $<first>. */
  #scope(scope: UsageScope, first: number): { where: string; args: unknown[]; name: string } {
    if ('repository' in scope) return { where: `r.name = $${first}`, args: [scope.repository], name: scope.repository };
    // The names under `ns/` are those between `ns/` and `ns0` ('0' follows '/'): a range of the name index.
    if ('namespace' in scope) return { where: `(r.name = $${first} OR (r.name > $${first} || '/' AND r.name < $${first} || '0'))`, args: [scope.namespace], name: scope.namespace };
    return { where: 'true', args: [], name: '*' };
  }

  usage(scope: UsageScope): Promise<Usage> {
    return this.#usage(this.#pool, scope);
  }

  async #usage(db: Db, scope: UsageScope): Promise<Usage> {
    const { where, args, name } = this.#scope(scope, 1);
    const row = await this.#row<Omit<Usage, 'scope'>>(
      db,
      `WITH repos AS (SELECT id FROM repositories r WHERE ${where}),
            ms AS (SELECT DISTINCT manifest_id FROM repository_manifests WHERE repository_id IN (SELECT id FROM repos)),
            bl AS (SELECT DISTINCT child FROM manifest_references WHERE kind = 'blob' AND manifest_id IN (SELECT manifest_id FROM ms))
       SELECT (SELECT count(*) FROM bl) AS blobs,
              (SELECT coalesce(sum(b.size), 0) FROM blobs b WHERE b.digest IN (SELECT child FROM bl)) AS "blobBytes",
              (SELECT count(*) FROM ms) AS manifests,
              (SELECT coalesce(sum(m.size), 0) FROM manifests m WHERE m.id IN (SELECT manifest_id FROM ms)) AS "manifestBytes",
              (SELECT count(*) FROM tags WHERE repository_id IN (SELECT id FROM repos)) AS tags`,
      args,
    );
    return { scope: name, blobs: 0, blobBytes: 0, manifests: 0, manifestBytes: 0, tags: 0, ...row };
  }

  async listRepositoryUsage(): Promise<Usage[]> {
    const rows: Usage[] = [];
    for (const name of await this.listAllRepositories()) rows.push(await this.usage({ repository: name }));
    return rows;
  }

  usageIncrease(scope: UsageScope, manifest: string, payloadBytes: number, blobs: readonly string[]): Promise<number> {
    return this.#increase(this.#pool, scope, manifest, payloadBytes, blobs);
  }

  async #increase(db: Db, scope: UsageScope, manifest: string, payloadBytes: number, blobs: readonly string[]): Promise<number> {
    const { where, args } = this.#scope(scope, 3);
    const row = await this.#row<{ manifestIn: boolean; added: number }>(
      db,
      `WITH repos AS (SELECT id FROM repositories r WHERE ${where})
       SELECT EXISTS (SELECT 1 FROM repository_manifests rm JOIN manifests m ON m.id = rm.manifest_id AND m.digest = $1
                      WHERE rm.repository_id IN (SELECT id FROM repos)) AS "manifestIn",
              (SELECT coalesce(sum(b.size), 0) FROM unnest($2::text[]) AS d (digest) JOIN blobs b ON b.digest = d.digest
                WHERE NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN repository_manifests rm ON rm.manifest_id = mr.manifest_id
                                  WHERE mr.child = d.digest AND mr.kind = 'blob' AND rm.repository_id IN (SELECT id FROM repos))) AS added`,
      [manifest, [...blobs], ...args],
    );
    return (row?.manifestIn === true ? 0 : payloadBytes) + (row?.added ?? 0);
  }

  async unreferencedBlobBytes(): Promise<{ blobs: number; bytes: number }> {
    const row = await this.#row<{ blobs: number; bytes: number }>(
      this.#pool,
      `SELECT count(*) AS blobs, coalesce(sum(size), 0) AS bytes FROM blobs b
       WHERE NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.child = b.digest AND mr.kind = 'blob')`,
    );
    return row ?? { blobs: 0, bytes: 0 };
  }

  // ---- browsing (BrowseStore; docs/api.md) ----

  async searchRepositories(search: RepositorySearch): Promise<RepositorySummary[]> {
    const summary = `SELECT r.name, (SELECT count(*) FROM (SELECT 1 FROM tags t WHERE t.repository_id = r.id LIMIT ${TAG_COUNT_CAP}) AS capped) AS tags,
                            (SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = r.id) AS "pushedAt"`;
    const stored = 'EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = r.id)';
    const after = search.after ?? '';
    if (search.contains.length < 3) {
      // Walks the name index from `after` and stops at `limit` matches.
      return this.#rows<RepositorySummary>(
        this.#pool,
        `${summary} FROM repositories r WHERE r.name > $1 AND ($2 = '' OR strpos(r.name, $2) > 0) AND ${stored} ORDER BY r.name LIMIT $3`,
        [after, search.contains, search.limit],
      );
    }
    // The next SEARCH_SCAN_WINDOW names first (browse.ts), then the trigram index.
    const found = await this.#rows<RepositorySummary>(
      this.#pool,
      `${summary} FROM (SELECT id, name FROM repositories WHERE name > $1 ORDER BY name LIMIT ${SEARCH_SCAN_WINDOW}) r
        WHERE strpos(r.name, $2) > 0 AND ${stored} ORDER BY r.name LIMIT $3`,
      [after, search.contains, search.limit],
    );
    if (found.length >= search.limit) return found;
    const windowEnd = (await this.#row<{ name: string }>(this.#pool, `SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT 1 OFFSET ${SEARCH_SCAN_WINDOW - 1}`, [after]))?.name;
    if (windowEnd === undefined) return found;
    // MATERIALIZED: the matches come from the trigram index, not from walking the name order.
    const rest = await this.#rows<RepositorySummary>(
      this.#pool,
      `WITH matches AS MATERIALIZED (SELECT id, name FROM repositories WHERE name LIKE $1 ESCAPE '\\')
       ${summary} FROM matches r WHERE r.name > $2 AND strpos(r.name, $3) > 0 AND ${stored} ORDER BY r.name LIMIT $4`,
      [`%${search.contains.replace(/[\\%_]/g, (char) => `\\${char}`)}%`, windowEnd, search.contains, search.limit - found.length],
    );
    return [...found, ...rest];
  }

  nextRepositoryName(after: string, before: string): Promise<string | undefined> {
    return this.#row<{ name: string }>(
      this.#pool,
      `SELECT r.name FROM repositories r
        WHERE r.name > $1 AND r.name < $2 AND EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = r.id)
        ORDER BY r.name LIMIT 1`,
      [after, before],
    ).then((row) => row?.name);
  }

  getRepositorySummary(repository: string): Promise<RepositorySummary | undefined> {
    return this.#row<RepositorySummary>(
      this.#pool,
      `SELECT r.name, (SELECT count(*) FROM (SELECT 1 FROM tags t WHERE t.repository_id = r.id LIMIT ${TAG_COUNT_CAP}) AS capped) AS tags,
              (SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = r.id) AS "pushedAt"
         FROM repositories r WHERE r.name = $1`,
      [repository],
    );
  }

  async listTagDetails(repository: string, cursor: TagCursor, limit: number): Promise<TagDetail[] | undefined> {
    const repositoryId = await this.#repositoryId(this.#pool, repository);
    if (repositoryId === undefined) return undefined;
    const select = `SELECT t.name, m.digest, m.media_type AS "mediaType", ${MANIFEST_SIZE} AS size, t.updated_at AS "pushedAt"
                      FROM tags t JOIN manifests m ON m.id = t.manifest_id`;
    if (cursor.sort === 'name') {
      return this.#rows<TagDetail>(this.#pool, `${select} WHERE t.repository_id = $1 AND t.name > $2 ORDER BY t.name LIMIT $3`, [repositoryId, cursor.after ?? '', limit]);
    }
    if (cursor.after === undefined) {
      return this.#rows<TagDetail>(this.#pool, `${select} WHERE t.repository_id = $1 ORDER BY t.updated_at DESC, t.name LIMIT $2`, [repositoryId, limit]);
    }
    const { pushedAt, name } = cursor.after;
    return this.#rows<TagDetail>(
      this.#pool,
      `${select} WHERE t.repository_id = $1 AND (t.updated_at < $2 OR (t.updated_at = $2 AND t.name > $3))
        ORDER BY t.updated_at DESC, t.name LIMIT $4`,
      [repositoryId, pushedAt, name, limit],
    );
  }

  async getManifestSummary(repository: string, digest: string): Promise<ManifestSummary | undefined> {
    const row = await this.#row<Omit<ManifestSummary, 'tags' | 'parents' | 'referrers'> & { id: number; repositoryId: number }>(
      this.#pool,
      `SELECT m.id, r.id AS "repositoryId", m.digest, m.media_type AS "mediaType", ${MANIFEST_SIZE} AS size, m.artifact_type AS "artifactType",
              m.subject, rm.created_at AS "createdAt"
         FROM repositories r JOIN repository_manifests rm ON rm.repository_id = r.id
         JOIN manifests m ON m.id = rm.manifest_id AND m.digest = $1
        WHERE r.name = $2`,
      [digest, repository],
    );
    if (row === undefined) return undefined;
    const { id, repositoryId, ...summary } = row;
    const tags = await this.#rows<{ name: string }>(this.#pool, 'SELECT name FROM tags WHERE repository_id = $1 AND manifest_id = $2 ORDER BY name', [repositoryId, id]);
    const parents = await this.#rows<{ digest: string }>(
      this.#pool,
      `SELECT p.digest FROM manifest_references mr JOIN manifests p ON p.id = mr.manifest_id
         JOIN repository_manifests rm ON rm.manifest_id = p.id AND rm.repository_id = $1
        WHERE mr.child = $2 AND mr.kind = 'manifest' ORDER BY p.digest`,
      [repositoryId, digest],
    );
    const counts = await this.#rows<{ artifactType: string; n: number }>(
      this.#pool,
      `SELECT coalesce(m.artifact_type, '') COLLATE "C" AS "artifactType", count(*) AS n FROM manifests m
         JOIN repository_manifests rm ON rm.manifest_id = m.id AND rm.repository_id = $1
        WHERE m.subject = $2 GROUP BY 1 ORDER BY 1`,
      [repositoryId, digest],
    );
    return {
      ...summary,
      tags: tags.map((tag) => tag.name),
      parents: parents.map((parent) => parent.digest),
      referrers: Object.fromEntries(counts.map((count) => [count.artifactType, count.n])),
    };
  }

  // ---- garbage-collector runs (GcRunStore) ----

  async recordGcRun(run: GcRunRow): Promise<void> {
    await this.#transaction(async (client) => {
      const inserted = await this.#row<{ id: number }>(
        client,
        `INSERT INTO gc_runs (started_at, finished_at, trigger, manifests, blobs, bytes_reclaimed, orphans, orphan_bytes, policy_tags, policy_manifests)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
        [run.startedAt, run.finishedAt, run.trigger, run.manifests, run.blobs, run.bytesReclaimed, run.orphans, run.orphanBytes, run.policyTags, run.policyManifests],
      );
      await this.#run(client, 'DELETE FROM gc_runs WHERE id <= $1', [(inserted?.id ?? 0) - GC_RUNS_KEPT]);
    });
  }

  listGcRuns(limit: number): Promise<GcRunRow[]> {
    return this.#rows<GcRunRow>(
      this.#pool,
      `SELECT started_at AS "startedAt", finished_at AS "finishedAt", trigger, manifests, blobs, bytes_reclaimed AS "bytesReclaimed",
              orphans, orphan_bytes AS "orphanBytes", policy_tags AS "policyTags", policy_manifests AS "policyManifests"
         FROM gc_runs ORDER BY id DESC LIMIT $1`,
      [limit],
    );
  }

  // ---- policies (PolicyStore; docs/lifecycle.md) ----

  async listAllRepositories(): Promise<string[]> {
    return (await this.#rows<{ name: string }>(this.#pool, 'SELECT name FROM repositories ORDER BY name')).map((row) => row.name);
  }

  listTagRows(repository: string): Promise<TagRow[]> {
    return this.#rows<TagRow>(
      this.#pool,
      `SELECT t.name, m.digest, t.updated_at AS "updatedAt" FROM repositories r
         JOIN tags t ON t.repository_id = r.id JOIN manifests m ON m.id = t.manifest_id
       WHERE r.name = $1 ORDER BY t.updated_at DESC, t.name`,
      [repository],
    );
  }

  removeUntagged(
    repository: string,
    options: { readonly deleteTags?: readonly string[]; readonly untaggedBefore?: number },
    dryRun: boolean,
    events?: RemovalEvents,
  ): Promise<{ tags: string[]; manifests: string[] }> {
    return this.#transaction(async (client) => {
      const outcome = { tags: [] as string[], manifests: [] as string[] };
      const record = async (removed: Parameters<RemovalEvents>[0]): Promise<void> => {
        const event = events?.(removed);
        if (event !== undefined) await this.#appendEvents(client, [event], Date.now());
      };
      const repositoryId = await this.#repositoryId(client, repository);
      if (repositoryId === undefined) return outcome;
      const candidates = new Set<number>();
      for (const tag of options.deleteTags ?? []) {
        const row = await this.#row<{ manifest_id: number; digest: string }>(
          client,
          'DELETE FROM tags t USING manifests m WHERE t.repository_id = $1 AND t.name = $2 AND m.id = t.manifest_id RETURNING t.manifest_id, m.digest',
          [repositoryId, tag],
        );
        if (row === undefined) continue;
        await this.#run(client, 'DELETE FROM upstream_tag_confirmations WHERE repository = $1 AND tag = $2', [repository, tag]);
        outcome.tags.push(tag);
        await record({ kind: 'tag', repository, tag, digest: row.digest });
        candidates.add(row.manifest_id);
      }
      if (options.untaggedBefore !== undefined) {
        const old = await this.#rows<{ manifest_id: number }>(
          client,
          `SELECT rm.manifest_id FROM repository_manifests rm
           WHERE rm.repository_id = $1 AND coalesce(rm.untagged_at, rm.created_at) <= $2
             AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = rm.repository_id AND t.manifest_id = rm.manifest_id)`,
          [repositoryId, options.untaggedBefore],
        );
        for (const { manifest_id } of old) candidates.add(manifest_id);
      }
      for (let progress = true; progress; ) {
        progress = false;
        for (const id of [...candidates]) {
          const untagged = await this.#row(
            client,
            'SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = $1 AND rm.manifest_id = $2 AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = rm.repository_id AND t.manifest_id = rm.manifest_id)',
            [repositoryId, id],
          );
          if (untagged === undefined) {
            candidates.delete(id);
            continue;
          }
          const held = await this.#row(
            client,
            `SELECT 1 FROM manifests m WHERE m.id = $1 AND (
               EXISTS (SELECT 1 FROM manifest_references mr JOIN repository_manifests rm ON rm.manifest_id = mr.manifest_id AND rm.repository_id = $2
                       WHERE mr.child = m.digest AND mr.kind = 'manifest')
               OR (m.subject IS NOT NULL AND EXISTS (SELECT 1 FROM repository_manifests rm JOIN manifests s ON s.id = rm.manifest_id
                       WHERE rm.repository_id = $2 AND s.digest = m.subject)))`,
            [id, repositoryId],
          );
          if (held !== undefined) continue;
          const digest = (await this.#row<{ digest: string }>(client, 'SELECT digest FROM manifests WHERE id = $1', [id]))?.digest ?? '';
          await this.#run(client, 'DELETE FROM repository_manifests WHERE repository_id = $1 AND manifest_id = $2', [repositoryId, id]);
          outcome.manifests.push(digest);
          await record({ kind: 'manifest', repository, digest });
          candidates.delete(id);
          const followers = await this.#rows<{ manifest_id: number }>(
            client,
            `SELECT rm.manifest_id FROM repository_manifests rm JOIN manifests m ON m.id = rm.manifest_id
             WHERE rm.repository_id = $1 AND (m.subject = $2 OR m.digest IN (SELECT child FROM manifest_references WHERE manifest_id = $3 AND kind = 'manifest'))`,
            [repositoryId, digest, id],
          );
          for (const { manifest_id } of followers) candidates.add(manifest_id);
          progress = true;
        }
      }
      return outcome;
    }, dryRun);
  }

  // ---- notification outbox (EventStore; src/metadata/event-store.ts) ----

  async appendEvents(events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#transaction((client) => this.#appendEvents(client, events, Date.now()));
  }

  async openEndpoint(endpoint: string): Promise<void> {
    await this.#run(
      this.#pool,
      `INSERT INTO event_endpoints (name, delivered_seq, lease_owner, lease_until, used_at)
       VALUES ($1, (SELECT coalesce(max(seq), 0) FROM event_outbox), NULL, 0, $2) ON CONFLICT (name) DO UPDATE SET used_at = excluded.used_at`,
      [endpoint, Date.now()],
    );
  }

  async acquireLease(endpoint: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const changes = await this.#run(
      this.#pool,
      `UPDATE event_endpoints SET lease_owner = $1, lease_until = $2, used_at = $3
       WHERE name = $4 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until <= $3)`,
      [owner, now + leaseMs, now, endpoint],
    );
    return changes > 0;
  }

  async releaseLease(endpoint: string, owner: string): Promise<void> {
    await this.#run(this.#pool, 'UPDATE event_endpoints SET lease_owner = NULL, lease_until = 0 WHERE name = $1 AND lease_owner = $2', [endpoint, owner]);
  }

  claimBatch(endpoint: string, limit: number): Promise<StoredEvent[]> {
    return this.#rows<StoredEvent>(
      this.#pool,
      `SELECT e.seq, e.repository, e.payload, e.created_at AS "createdAt" FROM event_outbox e
       WHERE e.seq > (SELECT delivered_seq FROM event_endpoints WHERE name = $1) ORDER BY e.seq LIMIT $2`,
      [endpoint, limit],
    );
  }

  async markDelivered(endpoint: string, owner: string, seq: number): Promise<boolean> {
    const now = Date.now();
    const changes = await this.#run(
      this.#pool,
      `UPDATE event_endpoints SET delivered_seq = greatest(delivered_seq, $1), used_at = $2
       WHERE name = $3 AND lease_owner = $4 AND lease_until > $2`,
      [seq, now, endpoint, owner],
    );
    return changes > 0;
  }

  async eventBacklog(endpoints: readonly string[]): Promise<EndpointBacklog[]> {
    const backlog: EndpointBacklog[] = [];
    for (const endpoint of endpoints) {
      const row = await this.#row<{ pending: number; oldestAt: number | null }>(
        this.#pool,
        `SELECT count(*) AS pending, min(e.created_at) AS "oldestAt" FROM event_outbox e
         WHERE e.seq > coalesce((SELECT delivered_seq FROM event_endpoints WHERE name = $1), (SELECT coalesce(max(seq), 0) FROM event_outbox))`,
        [endpoint],
      );
      backlog.push({ endpoint, pending: row?.pending ?? 0, oldestAt: row?.oldestAt ?? undefined });
    }
    return backlog;
  }

  pruneEvents(staleMs: number): Promise<number> {
    return this.#transaction(async (client) => {
      await this.#run(client, 'DELETE FROM event_endpoints WHERE used_at < $1', [Date.now() - staleMs]);
      const floor = (await this.#row<{ floor: number | null }>(client, 'SELECT min(delivered_seq) AS floor FROM event_endpoints'))?.floor ?? null;
      return floor === null ? this.#run(client, 'DELETE FROM event_outbox') : this.#run(client, 'DELETE FROM event_outbox WHERE seq <= $1', [floor]);
    });
  }

  // ---- a Berth store as the source of berth import (ExportStore; docs/import.md) ----

  async readRepositoryContents(repository: string): Promise<RepositoryContents> {
    // One snapshot for the three reads.
    return this.#transaction(async (client) => {
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const blobs = await this.#rows<{ digest: string }>(client, 'SELECT b.digest FROM repository_blobs b JOIN repositories r ON r.id = b.repository_id WHERE r.name = $1 ORDER BY b.digest', [repository]);
      const manifests = await this.#rows<{ digest: string }>(
        client,
        'SELECT m.digest FROM repository_manifests rm JOIN repositories r ON r.id = rm.repository_id JOIN manifests m ON m.id = rm.manifest_id WHERE r.name = $1 ORDER BY m.digest',
        [repository],
      );
      const tags = await this.#rows<{ name: string; digest: string }>(
        client,
        'SELECT t.name, m.digest FROM tags t JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id WHERE r.name = $1 ORDER BY t.name',
        [repository],
      );
      return { blobs: blobs.map((row) => row.digest), manifests: manifests.map((row) => row.digest), tags: new Map(tags.map((tag) => [tag.name, tag.digest])) };
    });
  }

  async getManifestPayload(digest: string): Promise<Buffer | undefined> {
    return (await this.#row<{ payload: Buffer }>(this.#pool, 'SELECT payload FROM manifests WHERE digest = $1', [digest]))?.payload;
  }

  // ---- the import journal (ImportStore; docs/import.md) ----

  async getImportedRepository(source: string, repository: string): Promise<ImportedRepository | undefined> {
    return this.#row<ImportedRepository>(this.#pool, 'SELECT fingerprint, imported_at AS "importedAt" FROM import_journal WHERE source = $1 AND repository = $2', [source, repository]);
  }

  async getImportedRepositories(source: string, repositories: readonly string[]): Promise<Map<string, ImportedRepository>> {
    const rows = await this.#rows<ImportedRepository & { repository: string }>(
      this.#pool,
      'SELECT repository, fingerprint, imported_at AS "importedAt" FROM import_journal WHERE source = $1 AND repository = ANY($2::text[])',
      [source, repositories],
    );
    return new Map(rows.map(({ repository, ...entry }) => [repository, entry]));
  }

  linkBlobs(repository: string, blobs: readonly (BlobRow & { readonly bytesPresentSince: number })[]): Promise<string[]> {
    if (blobs.length === 0) return Promise.resolve([]);
    const now = Date.now();
    return this.#transaction(async (client) => {
      const digests = blobs.map((blob) => blob.digest);
      // As linkBlob, for all of them at once: the review queue first (in digest order, as the collector locks), then the blob rows.
      await this.#run(
        client,
        `INSERT INTO gc_blob_review_queue (digest, event_at, event) SELECT d, $2, 'blob_linked' FROM unnest($1::text[]) AS q (d) ORDER BY d
         ON CONFLICT (digest) DO UPDATE SET event_at = greatest(gc_blob_review_queue.event_at, excluded.event_at), event = excluded.event`,
        [[...new Set(digests)].sort(), now],
      );
      const repositoryId = await this.#ensureRepository(client, repository, now);
      const created = await this.#rows<{ digest: string }>(
        client,
        'INSERT INTO blobs (digest, size, created_at) SELECT d, s, $3 FROM unnest($1::text[], $2::bigint[]) AS b (d, s) ON CONFLICT (digest) DO NOTHING RETURNING digest',
        [digests, blobs.map((blob) => blob.size), now],
      );
      // A new row whose bytes the collector may have deleted after the caller knew them present: not linked (its row undone).
      const since = new Map(blobs.map((blob) => [blob.digest, blob.bytesPresentSince]));
      const collecting =
        created.length === 0
          ? []
          : (
              await this.#rows<{ digest: string }>(
                client,
                `SELECT d.digest FROM gc_blob_deletions d JOIN unnest($1::text[], $2::bigint[]) AS c (digest, since) ON c.digest = d.digest
                  WHERE coalesce(d.finished_at, d.started_at + ${BLOB_DELETION_LEASE_MS}) >= c.since`,
                [created.map((row) => row.digest), created.map((row) => since.get(row.digest) ?? now)],
              )
            ).map((row) => row.digest);
      if (collecting.length > 0) await this.#run(client, 'DELETE FROM blobs WHERE digest = ANY($1::text[])', [collecting]);
      const refused = new Set(collecting);
      await this.#run(
        client,
        'INSERT INTO repository_blobs (repository_id, digest, created_at) SELECT $1, d, $3 FROM unnest($2::text[]) AS b (d) ON CONFLICT DO NOTHING',
        [repositoryId, digests.filter((digest) => !refused.has(digest)), now],
      );
      return [...refused];
    });
  }

  putManifests(manifests: readonly NewManifest[]): Promise<PutManifestResult[]> {
    const now = Date.now();
    return this.#transaction(async (client) => {
      const results: PutManifestResult[] = [];
      for (const manifest of manifests) {
        // Only an immutable tag can refuse after writing: a savepoint for those alone.
        if (manifest.immutableTag !== true) {
          results.push(await this.#putManifestIn(client, manifest, undefined, now));
          continue;
        }
        await client.query('SAVEPOINT put_manifest');
        try {
          results.push(await this.#putManifestIn(client, manifest, undefined, now));
          await client.query('RELEASE SAVEPOINT put_manifest');
        } catch (error) {
          if (!(error instanceof ImmutableTagRefusal)) throw error;
          await client.query('ROLLBACK TO SAVEPOINT put_manifest');
          results.push({ ok: false, immutable: true, current: error.current });
        }
      }
      return results;
    });
  }

  async recordImportedRepository(source: string, repository: string, fingerprint: string): Promise<void> {
    await this.#run(
      this.#pool,
      `INSERT INTO import_journal (source, repository, fingerprint, imported_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (source, repository) DO UPDATE SET fingerprint = excluded.fingerprint, imported_at = excluded.imported_at`,
      [source, repository, fingerprint, Date.now()],
    );
  }

  async forgetImportSource(source: string): Promise<void> {
    await this.#run(this.#pool, 'DELETE FROM import_journal WHERE source = $1', [source]);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** A manifest's payload plus the blobs it references, and its child manifests with theirs (BrowseStore sizes). */
const MANIFEST_SIZE = `(m.size
  + (SELECT coalesce(sum(b.size), 0) FROM manifest_references mr JOIN blobs b ON b.digest = mr.child WHERE mr.manifest_id = m.id AND mr.kind = 'blob')
  + (SELECT coalesce(sum(c.size + (SELECT coalesce(sum(cb.size), 0) FROM manifest_references cr JOIN blobs cb ON cb.digest = cr.child WHERE cr.manifest_id = c.id AND cr.kind = 'blob')), 0)
       FROM manifest_references mr JOIN manifests c ON c.digest = mr.child WHERE mr.manifest_id = m.id AND mr.kind = 'manifest'))`;

/** Thrown inside putManifest's transaction to roll it back when an immutable tag would move. */
class ImmutableTagRefusal extends Error {
  readonly current: string;
  constructor(current: string) {
    super('immutable tag');
    this.current = current;
  }
}
