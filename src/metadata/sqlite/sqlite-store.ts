// The embedded metadata store: SQLite through better-sqlite3 (synchronous, in-process, WAL).
// Every statement is prepared once; multi-step writes are IMMEDIATE transactions so that several
// processes (cluster workers) sharing the file serialise their writes.
import type { ImportedRepository, ImportStore } from '../import-store.js';
import type { ExportStore, RepositoryContents } from '../export-store.js';
import type { CachedManifestUse, ManifestPull, ProxyCacheStore } from '../proxy-cache.js';
import type { LoginWindow, SharedStateStore, UpstreamTagConfirmation } from '../shared-state.js';
import type Database from 'better-sqlite3';
import { SEARCH_SCAN_WINDOW, TAG_COUNT_CAP, type BrowseStore, type ManifestSummary, type RepositorySearch, type RepositorySummary, type TagCursor, type TagDetail } from '../browse.js';
import { GC_RUNS_KEPT, type GcRunRow, type GcRunStore } from '../gc-runs.js';
import type { EndpointBacklog, EventStore, OutboxEvent, RemovalEvents, StoredEvent } from '../event-store.js';
import { BLOB_DELETION_LEASE_MS, type BlobDeletions, type CollectedManifests, type GcCandidate, type GcQueueStats, type LifecycleStore, type Usage, type UsageScope, type UsageStore, type PolicyStore, type TagRow } from '../lifecycle.js';
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
import { MIGRATIONS } from './schema.js';
import { openWalDatabase } from './open-wal-database.js';
import { TagPageCache } from './tag-page-cache.js';
import { FALLBACK_PAGES, WalCheckpointer } from './wal-checkpointer.js';

/** Tag names held by the tag page cache, across repositories (a few MiB). */
const TAG_PAGE_CACHE_NAMES = 100_000;
/** Bytes of the rows kept between writes (most manifests are under 4 KiB); rows larger than a 64th of it are not kept. */
const ROW_CACHE_BYTES = 16 * 1024 * 1024;
/** What a cached manifest row costs: its payload, and about 200 bytes for the rest (digest, media type, key, Map entry). */
const manifestBytes = (row: ManifestRow): number => row.payload.length + 200;
/** What a cached blob row costs (digest, size, key, Map entry), roughly. */
const blobRowBytes = (): number => 300;
/** How long a statement waits for another process's lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000;

export interface SqliteOptions {
  readonly path: string;
  /** PRAGMA synchronous: FULL survives power loss; NORMAL (the default) survives a killed process. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Checkpoint the WAL on a worker thread (wal-checkpointer.ts); failures go here. The server sets it. */
  readonly onBackgroundCheckpointError?: (message: string) => void;
}

type Statement = Database.Statement<unknown[], unknown>;

export class SqliteStore implements MetadataStore, LifecycleStore, UsageStore, PolicyStore, EventStore, BrowseStore, ImportStore, GcRunStore, SharedStateStore, ExportStore, ProxyCacheStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Statement>();
  readonly #tagPages = new TagPageCache(TAG_PAGE_CACHE_NAMES);
  readonly #checkpointer: WalCheckpointer | undefined;
  #dataVersion: number;
  /** Rows by lookup, valid while the stamp below holds (#cachedRow). */
  readonly #rows = new Map<string, object>();
  #rowsVersion = -1;
  #rowsChanges = -1;
  #rowBytes = 0;

  constructor(options: SqliteOptions) {
    // Several processes (http.workers, berth gc) may open the file at the same moment.
    this.#db = openWalDatabase(options.path, BUSY_TIMEOUT_MS);
    this.#db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    // 32 MiB of page cache (the default is 2 MiB): index pages of a million tags stay in memory.
    this.#db.pragma('cache_size = -32768');
    this.#db.pragma('foreign_keys = ON');
    this.#migrate();
    this.#watchTags();
    this.#dataVersion = this.#readDataVersion();
    if (options.onBackgroundCheckpointError !== undefined && options.path !== ':memory:') {
      this.#db.pragma(`wal_autocheckpoint = ${FALLBACK_PAGES}`);
      this.#checkpointer = new WalCheckpointer(options.path, options.onBackgroundCheckpointError);
    }
  }

  /** Drop cached tag pages of a repository whenever this connection changes one of its tags. */
  #watchTags(): void {
    this.#db.function('berth_tags_changed', { varargs: false }, (name: unknown) => {
      this.#tagPages.invalidate(typeof name === 'string' ? name : undefined);
      return null;
    });
    const repository = (row: 'NEW' | 'OLD'): string => `berth_tags_changed((SELECT name FROM repositories WHERE id = ${row}.repository_id))`;
    this.#db.exec(`
      CREATE TEMP TRIGGER tag_pages_insert AFTER INSERT ON main.tags BEGIN SELECT ${repository('NEW')}; END;
      CREATE TEMP TRIGGER tag_pages_delete AFTER DELETE ON main.tags BEGIN SELECT ${repository('OLD')}; END;
      CREATE TEMP TRIGGER tag_pages_rename AFTER UPDATE OF name, repository_id ON main.tags BEGIN SELECT ${repository('OLD')}, ${repository('NEW')}; END;
    `);
  }

  #readDataVersion(): number {
    return this.#sql('PRAGMA data_version').pluck().get() as number;
  }

  #migrate(): void {
    const applied = this.#db.pragma('user_version', { simple: true }) as number;
    for (let version = applied; version < MIGRATIONS.length; version++) {
      this.#db.transaction(() => {
        // Read again under the write lock: another process (a worker starting at the same time)
        // may have applied this migration since.
        if ((this.#db.pragma('user_version', { simple: true }) as number) > version) return;
        this.#db.exec(MIGRATIONS[version] ?? '');
        this.#db.pragma(`user_version = ${version + 1}`);
      }).immediate();
    }
  }

  #sql(text: string): Statement {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  #repositoryId(name: string): number | undefined {
    const row = this.#sql('SELECT id FROM repositories WHERE name = ?').get(name) as { id: number } | undefined;
    return row?.id;
  }

  #ensureRepository(name: string, now: number): number {
    const id = this.#repositoryId(name);
    if (id !== undefined) return id;
    return Number(this.#sql('INSERT INTO repositories (name, created_at) VALUES (?, ?)').run(name, now).lastInsertRowid);
  }

  hasRepository(repository: string): Promise<boolean> {
    return Promise.resolve(this.#repositoryId(repository) !== undefined);
  }

  getRepositoryBlob(repository: string, digest: string): Promise<BlobRow | undefined> {
    return Promise.resolve(
      this.#cachedRow(`b\u0000${repository}\u0000${digest}`, blobRowBytes, () =>
        this.#sql(
          `SELECT b.digest, b.size FROM repositories r
             JOIN repository_blobs rb ON rb.repository_id = r.id AND rb.digest = ?
             JOIN blobs b ON b.digest = rb.digest
           WHERE r.name = ?`,
        ).get(digest, repository) as BlobRow | undefined,
      ),
    );
  }

  getBlob(digest: string): Promise<BlobRow | undefined> {
    return Promise.resolve(this.#sql('SELECT digest, size FROM blobs WHERE digest = ?').get(digest) as BlobRow | undefined);
  }

  /** Appends notification events inside the caller's transaction. */
  #appendEvents(events: readonly OutboxEvent[] | undefined, now: number): void {
    if (events === undefined || events.length === 0) return;
    const insert = this.#sql('INSERT INTO event_outbox (repository, payload, created_at) VALUES (?, ?, ?)');
    for (const event of events) insert.run(event.repository, event.payload, now);
  }

  linkBlob(repository: string, blob: BlobRow, completedUpload?: string, bytesPresentSince?: number, events?: readonly OutboxEvent[]): Promise<void> {
    const now = Date.now();
    try {
      this.#db.transaction(() => {
        if (completedUpload !== undefined) this.#sql('DELETE FROM uploads WHERE id = ?').run(completedUpload);
        this.#linkBlobRow(this.#ensureRepository(repository, now), blob, bytesPresentSince ?? now, now);
        this.#appendEvents(events, now);
      }).immediate();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return Promise.resolve();
  }

  /** linkBlob's rows, inside the caller's transaction (BlobCollectedError: the caller rolls back). */
  #linkBlobRow(repositoryId: number, blob: BlobRow, bytesPresentSince: number, now: number): void {
    const created = this.#sql('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING').run(blob.digest, blob.size, now);
    // A new row: if the collector deleted (or may still delete) this digest's bytes after the
    // caller knew them present, the bytes may be gone; refuse (and roll back) rather than record
    // a row over missing bytes. A deletion's bytes go before finished_at, or before its lease ends.
    if (created.changes > 0) {
      const collecting = this.#sql(
        `SELECT 1 FROM gc_blob_deletions WHERE digest = ? AND coalesce(finished_at, started_at + ${BLOB_DELETION_LEASE_MS}) >= ?`,
      ).get(blob.digest, bytesPresentSince);
      if (collecting !== undefined) throw new BlobCollectedError(blob.digest);
    }
    this.#sql('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(repositoryId, blob.digest, now);
    // Linked and not yet referenced: a GC candidate, reviewed no sooner than the delay from now.
    this.#sql(
      `INSERT INTO gc_blob_review_queue (digest, event_at, event) VALUES (?, ?, 'blob_linked')
       ON CONFLICT (digest) DO UPDATE SET event_at = max(event_at, excluded.event_at), event = excluded.event`,
    ).run(blob.digest, now);
  }

  unlinkBlob(repository: string, digest: string, events?: readonly OutboxEvent[]): Promise<boolean> {
    const unlinked = this.#db.transaction((): boolean => {
      const result = this.#sql('DELETE FROM repository_blobs WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)').run(digest, repository);
      if (result.changes > 0) this.#appendEvents(events, Date.now());
      return result.changes > 0;
    });
    return this.#settle(() => (events === undefined ? unlinked.default() : unlinked.immediate()));
  }

  /** A synchronous outcome as a promise (a throw becomes a rejection). */
  #settle<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  getManifestByDigest(repository: string, digest: string): Promise<ManifestRow | undefined> {
    return Promise.resolve(
      this.#cachedRow(`d\u0000${repository}\u0000${digest}`, manifestBytes, () =>
        this.#sql(
          `SELECT m.digest, m.media_type AS mediaType, m.payload FROM manifests m
             JOIN repository_manifests rm ON rm.manifest_id = m.id
             JOIN repositories r ON r.id = rm.repository_id AND r.name = ?
           WHERE m.digest = ?`,
        ).get(repository, digest) as ManifestRow | undefined,
      ),
    );
  }

  getManifestByTag(repository: string, tag: string): Promise<ManifestRow | undefined> {
    return Promise.resolve(
      this.#cachedRow(`t\u0000${repository}\u0000${tag}`, manifestBytes, () =>
        this.#sql(
          `SELECT m.digest, m.media_type AS mediaType, m.payload FROM repositories r
             JOIN tags t ON t.repository_id = r.id AND t.name = ?
             JOIN manifests m ON m.id = t.manifest_id
           WHERE r.name = ?`,
        ).get(tag, repository) as ManifestRow | undefined,
      ),
    );
  }

  #dropRows(): void {
    this.#rows.clear();
    this.#rowBytes = 0;
  }

  /**
   * A row read before (a manifest by tag or digest, a repository's blob), if nothing was written to
   * the file since: not by this connection (`total_changes()` counts every row it changed, triggers
   * included, rolled back or not) and not by another one, in this process or another
   * (`data_version`). Either moving drops every row. The check is one statement per read, about half
   * the cost of the three-table join it saves. `bytes`: what the row holds, for the cache's bound.
   */
  #cachedRow<T extends object>(key: string, bytes: (row: T) => number, read: () => T | undefined): T | undefined {
    const stamp = this.#sql('SELECT data_version AS version, total_changes() AS changes FROM pragma_data_version').get() as { version: number; changes: number };
    if (stamp.version !== this.#rowsVersion || stamp.changes !== this.#rowsChanges) {
      this.#dropRows();
      this.#rowsVersion = stamp.version;
      this.#rowsChanges = stamp.changes;
    }
    const cached = this.#rows.get(key) as T | undefined;
    if (cached !== undefined) return cached;
    const row = read();
    if (row === undefined) return undefined;
    const size = bytes(row);
    if (size > ROW_CACHE_BYTES / 64) return row;
    if (this.#rowBytes + size > ROW_CACHE_BYTES) this.#dropRows();
    this.#rows.set(key, row);
    this.#rowBytes += size;
    return row;
  }

  putManifest(manifest: NewManifest, events?: readonly OutboxEvent[]): Promise<PutManifestResult> {
    try {
      return Promise.resolve(this.#putManifest(manifest, events));
    } catch (error) {
      if (error instanceof ImmutableTagRefusal) return Promise.resolve({ ok: false, immutable: true, current: error.current });
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #putManifest(manifest: NewManifest, events: readonly OutboxEvent[] | undefined): PutManifestResult {
    const now = Date.now();
    return this.#db.transaction(() => this.#putManifestRows(manifest, events, now)).immediate();
  }

  /** putManifest's statements, inside the caller's transaction (ImmutableTagRefusal, QuotaExceededError: the caller rolls back). */
  #putManifestRows(manifest: NewManifest, events: readonly OutboxEvent[] | undefined, now: number): PutManifestResult {
    {
      const repositoryId = this.#ensureRepository(manifest.repository, now);
      for (const digest of manifest.fromUpstream === true ? [] : manifest.blobs) {
        const found = this.#sql('SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?').get(repositoryId, digest);
        if (found === undefined) return { ok: false, missing: 'blob', digest };
      }
      for (const digest of manifest.fromUpstream === true ? [] : manifest.manifests) {
        const found = this.#sql(
          'SELECT 1 FROM repository_manifests rm JOIN manifests m ON m.id = rm.manifest_id WHERE rm.repository_id = ? AND m.digest = ?',
        ).get(repositoryId, digest);
        if (found === undefined) return { ok: false, missing: 'manifest', digest };
      }
      // Quotas inside the IMMEDIATE transaction: no other writer can add to the scope meanwhile.
      for (const quota of manifest.quotas ?? []) {
        const scope = quota.per === 'repository' ? { repository: quota.scope } : { namespace: quota.scope };
        const added = this.#increase(scope, manifest.digest, manifest.payload.length, manifest.blobs);
        if (added === 0) continue;
        const used = this.#usage(scope);
        if (used.blobBytes + used.manifestBytes + added > quota.limitBytes) throw new QuotaExceededError(quota.scope, quota.limitBytes, used.blobBytes + used.manifestBytes, added);
      }
      let manifestId = (this.#sql('SELECT id FROM manifests WHERE digest = ?').get(manifest.digest) as { id: number } | undefined)?.id;
      if (manifestId === undefined) {
        manifestId = Number(
          this.#sql(
            `INSERT INTO manifests (digest, media_type, size, payload, artifact_type, annotations, subject, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
            manifest.digest,
            manifest.mediaType,
            manifest.payload.length,
            manifest.payload,
            manifest.artifactType,
            manifest.annotations,
            manifest.subject,
            now,
          ).lastInsertRowid,
        );
        const reference = this.#sql('INSERT INTO manifest_references (manifest_id, child, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
        for (const digest of manifest.blobs) reference.run(manifestId, digest, 'blob');
        for (const digest of manifest.manifests) reference.run(manifestId, digest, 'manifest');
      }
      this.#sql('INSERT INTO repository_manifests (repository_id, manifest_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(
        repositoryId,
        manifestId,
        now,
      );
      if (manifest.tag !== null && manifest.immutableTag === true) {
        const current = this.#sql('SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ? AND t.name = ?').pluck().get(repositoryId, manifest.tag) as
          | string
          | undefined;
        if (current !== undefined && current !== manifest.digest) throw new ImmutableTagRefusal(current);
      }
      if (manifest.tag !== null) {
        this.#sql(
          `INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`,
        ).run(repositoryId, manifest.tag, manifestId, now);
      }
      this.#appendEvents(events, now);
      return { ok: true };
    }
  }

  deleteManifest(repository: string, digest: string, events?: readonly OutboxEvent[], isProtected?: (tag: string) => boolean): Promise<boolean> {
    return this.#settle(() =>
      this.#db.transaction((): boolean => {
        const repositoryId = this.#repositoryId(repository);
        const manifestId = (this.#sql('SELECT id FROM manifests WHERE digest = ?').get(digest) as { id: number } | undefined)?.id;
        if (repositoryId === undefined || manifestId === undefined) return false;
        if (isProtected !== undefined) {
          // Inside the IMMEDIATE transaction: no tag can be added between this check and the delete.
          const tags = this.#sql('SELECT name FROM tags WHERE repository_id = ? AND manifest_id = ? ORDER BY name').pluck().all(repositoryId, manifestId) as string[];
          const kept = tags.find(isProtected);
          if (kept !== undefined) throw new ProtectedTagError(kept);
        }
        // A removed tag's upstream confirmation (a proxied repository) goes with it.
        this.#sql('DELETE FROM upstream_tag_confirmations WHERE repository = ? AND tag IN (SELECT name FROM tags WHERE repository_id = ? AND manifest_id = ?)').run(repository, repositoryId, manifestId);
        this.#sql('DELETE FROM tags WHERE repository_id = ? AND manifest_id = ?').run(repositoryId, manifestId);
        const deleted = this.#sql('DELETE FROM repository_manifests WHERE repository_id = ? AND manifest_id = ?').run(repositoryId, manifestId).changes > 0;
        if (deleted) this.#appendEvents(events, Date.now());
        return deleted;
      }).immediate(),
    );
  }

  deleteTag(repository: string, tag: string, events?: readonly OutboxEvent[]): Promise<boolean> {
    const remove = this.#db.transaction((): boolean => {
      const result = this.#sql('DELETE FROM tags WHERE name = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)').run(tag, repository);
      if (result.changes > 0) {
        this.#sql('DELETE FROM upstream_tag_confirmations WHERE repository = ? AND tag = ?').run(repository, tag);
        this.#appendEvents(events, Date.now());
      }
      return result.changes > 0;
    });
    return this.#settle(() => (events === undefined ? remove.default() : remove.immediate()));
  }

  listTagsOfManifest(repository: string, digest: string): Promise<string[]> {
    const rows = this.#sql(
      `SELECT t.name FROM repositories r
         JOIN tags t ON t.repository_id = r.id
         JOIN manifests m ON m.id = t.manifest_id AND m.digest = ?
       WHERE r.name = ? ORDER BY t.name`,
    ).pluck().all(digest, repository) as string[];
    return Promise.resolve(rows);
  }

  listTags(repository: string, page: Page): Promise<string[] | undefined> {
    // Another connection wrote since the last look: its tag changes fired no trigger here.
    const dataVersion = this.#readDataVersion();
    if (dataVersion !== this.#dataVersion) {
      this.#dataVersion = dataVersion;
      this.#tagPages.invalidate();
    }
    const after = page.after ?? '';
    const cached = this.#tagPages.get(repository, after, page.limit);
    if (cached !== undefined) return Promise.resolve([...cached]);
    // One query in the common case; only an empty page asks whether the repository exists.
    const rows = this.#sql(
      `SELECT t.name FROM repositories r JOIN tags t ON t.repository_id = r.id
       WHERE r.name = ? AND t.name > ? ORDER BY t.name LIMIT ?`,
    ).pluck().all(repository, after, page.limit) as string[];
    if (rows.length === 0) return Promise.resolve(this.#repositoryId(repository) === undefined ? undefined : rows);
    // Only pages with names: they prove the repository exists, so a cached page never hides its removal.
    this.#tagPages.set(repository, after, page.limit, rows);
    return Promise.resolve([...rows]);
  }

  listRepositories(page: Page): Promise<string[]> {
    const rows = this.#sql(
      `SELECT name FROM repositories r WHERE name > ?
         AND EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = r.id)
       ORDER BY name LIMIT ?`,
    ).pluck().all(page.after ?? '', page.limit) as string[];
    return Promise.resolve(rows);
  }

  listReferrers(repository: string, subject: string, artifactType?: string): Promise<ReferrerRow[]> {
    const rows = this.#sql(
      `SELECT m.digest, m.media_type AS mediaType, m.size, m.artifact_type AS artifactType, m.annotations
         FROM manifests m
         JOIN repository_manifests rm ON rm.manifest_id = m.id
         JOIN repositories r ON r.id = rm.repository_id AND r.name = ?
       WHERE m.subject = ? AND (? IS NULL OR m.artifact_type = ?)
       ORDER BY m.digest`,
    ).all(repository, subject, artifactType ?? null, artifactType ?? null) as ReferrerRow[];
    return Promise.resolve(rows);
  }

  createUpload(upload: UploadRow): Promise<void> {
    this.#sql('INSERT INTO uploads (id, repository, started_at) VALUES (?, ?, ?)').run(upload.id, upload.repository, upload.startedAt);
    return Promise.resolve();
  }

  getUpload(repository: string, id: string): Promise<UploadRow | undefined> {
    const row = this.#sql('SELECT id, repository, started_at AS startedAt FROM uploads WHERE id = ? AND repository = ?').get(id, repository) as
      | UploadRow
      | undefined;
    return Promise.resolve(row);
  }

  deleteUpload(id: string): Promise<void> {
    this.#sql('DELETE FROM uploads WHERE id = ?').run(id);
    return Promise.resolve();
  }

  hasUpload(id: string): Promise<boolean> {
    return Promise.resolve(this.#sql('SELECT 1 FROM uploads WHERE id = ?').get(id) !== undefined);
  }

  getUploadState(id: string): Promise<UploadState | undefined> {
    const row = this.#sql(
      'SELECT hashed_offset AS offset, hash_state AS hashState, writer, writer_until AS writerUntil, version FROM uploads WHERE id = ?',
    ).get(id) as UploadState | undefined;
    return Promise.resolve(row);
  }

  casUploadState(id: string, version: number, next: UploadStateChange): Promise<boolean> {
    const changed = this.#sql(
      'UPDATE uploads SET hashed_offset = ?, hash_state = ?, writer = ?, writer_until = ?, version = version + 1 WHERE id = ? AND version = ?',
    ).run(next.offset, next.hashState, next.writer, next.writerUntil, id, version).changes;
    return Promise.resolve(changed === 1);
  }

  // ---- shared state (SharedStateStore) ----

  sharedValue(name: string, candidate: string): Promise<string> {
    this.#sql('INSERT INTO shared_values (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING').run(name, candidate, Date.now());
    return Promise.resolve(this.#sql('SELECT value FROM shared_values WHERE name = ?').pluck().get(name) as string);
  }

  countLoginFailure(client: string, now: number, windowMs: number): Promise<LoginWindow> {
    const row = this.#sql(
      `INSERT INTO login_failures (client, window_start, failures) VALUES (?, ?, 1)
       ON CONFLICT (client) DO UPDATE SET
         failures = CASE WHEN login_failures.window_start > excluded.window_start - ? THEN login_failures.failures + 1 ELSE 1 END,
         window_start = CASE WHEN login_failures.window_start > excluded.window_start - ? THEN login_failures.window_start ELSE excluded.window_start END
       RETURNING window_start AS start, failures`,
    ).get(client, now, windowMs, windowMs) as LoginWindow;
    return Promise.resolve(row);
  }

  loginWindow(client: string, now: number, windowMs: number): Promise<LoginWindow | undefined> {
    const row = this.#sql('SELECT window_start AS start, failures FROM login_failures WHERE client = ? AND window_start > ?').get(client, now - windowMs) as LoginWindow | undefined;
    return Promise.resolve(row);
  }

  pruneLoginWindows(now: number, windowMs: number, limit: number): Promise<number> {
    const changes = this.#sql('DELETE FROM login_failures WHERE client IN (SELECT client FROM login_failures WHERE window_start <= ? LIMIT ?)').run(now - windowMs, limit).changes;
    return Promise.resolve(changes);
  }

  claimWorkLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const changes = this.#sql(
      `INSERT INTO work_leases (name, holder, until) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
       WHERE work_leases.until <= ? OR work_leases.holder = excluded.holder`,
    ).run(name, holder, now + ttlMs, now).changes;
    return Promise.resolve(changes === 1);
  }

  releaseWorkLease(name: string, holder: string): Promise<void> {
    this.#sql('DELETE FROM work_leases WHERE name = ? AND holder = ?').run(name, holder);
    return Promise.resolve();
  }

  confirmUpstreamTag(repository: string, tag: string, digest: string, at: number): Promise<void> {
    // A later confirmation never goes back in time (two workers confirming at once).
    this.#sql(
      `INSERT INTO upstream_tag_confirmations (repository, tag, digest, confirmed_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, confirmed_at = excluded.confirmed_at
       WHERE excluded.confirmed_at >= upstream_tag_confirmations.confirmed_at`,
    ).run(repository, tag, digest, at);
    return Promise.resolve();
  }

  recordManifestPulls(pulls: readonly ManifestPull[]): Promise<void> {
    if (pulls.length === 0) return Promise.resolve();
    const update = this.#sql(
      `UPDATE repository_manifests SET last_pulled_at = ?
       WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND manifest_id = (SELECT id FROM manifests WHERE digest = ?)
         AND (last_pulled_at IS NULL OR last_pulled_at < ?)`,
    );
    return this.#settle(() =>
      this.#db
        .transaction(() => {
          for (const pull of pulls) update.run(pull.at, pull.repository, pull.digest, pull.at);
        })
        .immediate(),
    );
  }

  leastRecentlyUsed(prefix: string, usedBefore: number | undefined, limit: number): Promise<CachedManifestUse[]> {
    // A prefix ends in '/': its names sort from it up to the same text ending in '0' (the next byte).
    const end = prefix === '' ? '' : `${prefix.slice(0, -1)}0`;
    // The page first, then the sizes of its rows only.
    const rows = this.#sql(
      `WITH page AS (
         SELECT r.name AS repository, m.id AS manifest_id, m.digest, coalesce(rm.last_pulled_at, rm.created_at) AS usedAt
         FROM repository_manifests rm JOIN repositories r ON r.id = rm.repository_id JOIN manifests m ON m.id = rm.manifest_id
         WHERE (? = '' OR (r.name >= ? AND r.name < ?)) AND (? IS NULL OR coalesce(rm.last_pulled_at, rm.created_at) < ?)
         ORDER BY usedAt, r.name, m.digest LIMIT ?)
       SELECT p.repository, p.digest, p.usedAt,
         length(m.payload) + coalesce((SELECT sum(b.size) FROM manifest_references mr JOIN blobs b ON b.digest = mr.child WHERE mr.manifest_id = p.manifest_id AND mr.kind = 'blob'), 0) AS bytes
       FROM page p JOIN manifests m ON m.id = p.manifest_id
       ORDER BY p.usedAt, p.repository, p.digest`,
    ).all(prefix, prefix, end, usedBefore ?? null, usedBefore ?? null, limit) as CachedManifestUse[];
    return Promise.resolve(rows);
  }

  upstreamTagConfirmation(repository: string, tag: string): Promise<UpstreamTagConfirmation | undefined> {
    const row = this.#sql('SELECT digest, confirmed_at AS at FROM upstream_tag_confirmations WHERE repository = ? AND tag = ?').get(repository, tag) as UpstreamTagConfirmation | undefined;
    return Promise.resolve(row);
  }

  listUploadsStartedBefore(time: number, limit: number): Promise<UploadRow[]> {
    const rows = this.#sql('SELECT id, repository, started_at AS startedAt FROM uploads WHERE started_at < ? ORDER BY started_at LIMIT ?').all(
      time,
      limit,
    ) as UploadRow[];
    return Promise.resolve(rows);
  }

  schemaStatus(): Promise<{ applied: number; expected: number }> {
    return Promise.resolve({ applied: this.#db.pragma('user_version', { simple: true }) as number, expected: MIGRATIONS.length });
  }

  countUploads(): Promise<number> {
    return Promise.resolve(this.#sql('SELECT count(*) FROM uploads').pluck().get() as number);
  }

  // ---- lifecycle (LifecycleStore; docs/gc.md) ----

  collectManifests(cutoff: number, limit: number, dryRun: boolean): Promise<CollectedManifests> {
    const work = (): CollectedManifests => {
      const due = this.#sql('SELECT digest FROM gc_manifest_review_queue WHERE event_at <= ? ORDER BY event_at LIMIT ?').pluck().all(cutoff, limit) as string[];
      const collected: GcCandidate[] = [];
      for (const digest of due) {
        const row = this.#sql('SELECT id, size FROM manifests WHERE digest = ?').get(digest) as { id: number; size: number } | undefined;
        const eligible =
          row !== undefined &&
          this.#sql('SELECT 1 FROM repository_manifests WHERE manifest_id = ?').get(row.id) === undefined &&
          this.#sql("SELECT 1 FROM manifest_references WHERE child = ? AND kind = 'manifest'").get(digest) === undefined;
        if (eligible) collected.push({ digest, size: row.size });
        if (dryRun) continue;
        if (eligible) {
          // Deleting the references enqueues the children (trigger gc_manifest_reference_removed).
          this.#sql('DELETE FROM manifest_references WHERE manifest_id = ?').run(row.id);
          this.#sql('DELETE FROM manifests WHERE id = ?').run(row.id);
        }
        // Referenced again (or gone): off the queue; losing that reference enqueues it again.
        this.#sql('DELETE FROM gc_manifest_review_queue WHERE digest = ?').run(digest);
      }
      return { collected, examined: due.length };
    };
    return this.#lifecycleTransaction(work, dryRun);
  }

  beginBlobDeletions(cutoff: number, limit: number, dryRun: boolean, events?: RemovalEvents): Promise<BlobDeletions> {
    const work = (): BlobDeletions => {
      const now = Date.now();
      const due = this.#sql('SELECT digest FROM gc_blob_review_queue WHERE event_at <= ? ORDER BY event_at LIMIT ?').pluck().all(cutoff, limit) as string[];
      const deleting: GcCandidate[] = [];
      for (const digest of due) {
        const row = this.#sql('SELECT size FROM blobs WHERE digest = ?').get(digest) as { size: number } | undefined;
        const eligible = row !== undefined && this.#sql("SELECT 1 FROM manifest_references WHERE child = ? AND kind = 'blob'").get(digest) === undefined;
        if (eligible) deleting.push({ digest, size: row.size });
        if (dryRun) continue;
        if (eligible) {
          if (events !== undefined) {
            const repositories = this.#sql('SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE rb.digest = ? ORDER BY r.name').pluck().all(digest) as string[];
            this.#appendEvents(
              repositories.map((repository) => events({ kind: 'blob', repository, digest })).filter((event): event is OutboxEvent => event !== undefined),
              now,
            );
          }
          this.#sql('DELETE FROM repository_blobs WHERE digest = ?').run(digest);
          this.#sql('DELETE FROM blobs WHERE digest = ?').run(digest);
          this.#sql(
            `INSERT INTO gc_blob_deletions (digest, size, started_at, finished_at) VALUES (?, ?, ?, NULL)
             ON CONFLICT (digest) DO UPDATE SET size = excluded.size, started_at = excluded.started_at, finished_at = NULL`,
          ).run(digest, row.size, now);
        }
        this.#sql('DELETE FROM gc_blob_review_queue WHERE digest = ?').run(digest);
      }
      return { deleting, examined: due.length };
    };
    return this.#lifecycleTransaction(work, dryRun);
  }

  beginOrphanDeletion(digest: string, size: number): Promise<boolean> {
    return this.#lifecycleTransaction(() => {
      const now = Date.now();
      if (this.#sql('SELECT 1 FROM blobs WHERE digest = ?').get(digest) !== undefined) return false;
      const running = this.#sql(`SELECT 1 FROM gc_blob_deletions WHERE digest = ? AND finished_at IS NULL AND started_at + ${BLOB_DELETION_LEASE_MS} > ?`).get(digest, now);
      if (running !== undefined) return false;
      this.#sql(
        `INSERT INTO gc_blob_deletions (digest, size, started_at, finished_at) VALUES (?, ?, ?, NULL)
         ON CONFLICT (digest) DO UPDATE SET size = excluded.size, started_at = excluded.started_at, finished_at = NULL`,
      ).run(digest, size, now);
      return true;
    }, false);
  }

  finishBlobDeletions(digests: readonly string[]): Promise<void> {
    return this.#lifecycleTransaction(() => {
      const now = Date.now();
      const finish = this.#sql('UPDATE gc_blob_deletions SET finished_at = ? WHERE digest = ? AND finished_at IS NULL');
      for (const digest of digests) finish.run(now, digest);
    }, false);
  }

  unfinishedBlobDeletions(limit: number): Promise<{ digest: string; size: number; startedAt: number }[]> {
    const rows = this.#sql('SELECT digest, size, started_at AS startedAt FROM gc_blob_deletions WHERE finished_at IS NULL ORDER BY started_at LIMIT ?').all(limit) as {
      digest: string;
      size: number;
      startedAt: number;
    }[];
    return Promise.resolve(rows);
  }

  renewBlobDeletion(digest: string): Promise<boolean> {
    return this.#lifecycleTransaction(() => {
      if (this.#sql('SELECT 1 FROM blobs WHERE digest = ?').get(digest) !== undefined) {
        this.#sql('DELETE FROM gc_blob_deletions WHERE digest = ?').run(digest);
        return false;
      }
      return this.#sql('UPDATE gc_blob_deletions SET started_at = ?, finished_at = NULL WHERE digest = ?').run(Date.now(), digest).changes > 0;
    }, false);
  }

  pruneBlobDeletions(finishedBefore: number): Promise<void> {
    this.#sql('DELETE FROM gc_blob_deletions WHERE finished_at IS NOT NULL AND finished_at < ?').run(finishedBefore);
    return Promise.resolve();
  }

  gcQueueStats(): Promise<GcQueueStats> {
    const count = (sql: string): number => this.#sql(sql).pluck().get() as number;
    return Promise.resolve({
      blobs: count('SELECT count(*) FROM gc_blob_review_queue'),
      manifests: count('SELECT count(*) FROM gc_manifest_review_queue'),
      blobDeletionsInProgress: count('SELECT count(*) FROM gc_blob_deletions WHERE finished_at IS NULL'),
    });
  }

  // ---- usage (UsageStore; docs/lifecycle.md) ----

  #scope(scope: UsageScope): { where: string; args: unknown[]; name: string } {
    if ('repository' in scope) return { where: 'r.name = ?', args: [scope.repository], name: scope.repository };
    // The names under `ns/` are those between `ns/` and `ns0` ('0' follows '/'): a range of the name index.
    if ('namespace' in scope) return { where: "(r.name = ? OR (r.name > ? || '/' AND r.name < ? || '0'))", args: [scope.namespace, scope.namespace, scope.namespace], name: scope.namespace };
    return { where: '1', args: [], name: '*' };
  }

  usage(scope: UsageScope): Promise<Usage> {
    return Promise.resolve(this.#usage(scope));
  }

  #usage(scope: UsageScope): Usage {
    const { where, args, name } = this.#scope(scope);
    const row = this.#sql(
      `WITH repos AS (SELECT id FROM repositories r WHERE ${where}),
            ms AS (SELECT DISTINCT manifest_id FROM repository_manifests WHERE repository_id IN (SELECT id FROM repos)),
            bl AS (SELECT DISTINCT child FROM manifest_references WHERE kind = 'blob' AND manifest_id IN (SELECT manifest_id FROM ms))
       SELECT (SELECT count(*) FROM bl) AS blobs,
              (SELECT coalesce(sum(b.size), 0) FROM blobs b WHERE b.digest IN (SELECT child FROM bl)) AS blobBytes,
              (SELECT count(*) FROM ms) AS manifests,
              (SELECT coalesce(sum(m.size), 0) FROM manifests m WHERE m.id IN (SELECT manifest_id FROM ms)) AS manifestBytes,
              (SELECT count(*) FROM tags WHERE repository_id IN (SELECT id FROM repos)) AS tags`,
    ).get(...args) as Omit<Usage, 'scope'>;
    return { scope: name, ...row };
  }

  async listRepositoryUsage(): Promise<Usage[]> {
    const names = this.#sql('SELECT name FROM repositories ORDER BY name').pluck().all() as string[];
    const rows: Usage[] = [];
    for (const name of names) rows.push(await this.usage({ repository: name }));
    return rows;
  }

  usageIncrease(scope: UsageScope, manifest: string, payloadBytes: number, blobs: readonly string[]): Promise<number> {
    return Promise.resolve(this.#increase(scope, manifest, payloadBytes, blobs));
  }

  #increase(scope: UsageScope, manifest: string, payloadBytes: number, blobs: readonly string[]): number {
    const { where, args } = this.#scope(scope);
    const manifestIn = this.#sql(
      `SELECT 1 FROM repository_manifests rm JOIN manifests m ON m.id = rm.manifest_id AND m.digest = ?
       WHERE rm.repository_id IN (SELECT id FROM repositories r WHERE ${where}) LIMIT 1`,
    );
    const blobIn = this.#sql(
      `SELECT 1 FROM manifest_references mr JOIN repository_manifests rm ON rm.manifest_id = mr.manifest_id
       WHERE mr.child = ? AND mr.kind = 'blob' AND rm.repository_id IN (SELECT id FROM repositories r WHERE ${where}) LIMIT 1`,
    );
    const size = this.#sql('SELECT size FROM blobs WHERE digest = ?').pluck();
    let added = manifestIn.get(manifest, ...args) === undefined ? payloadBytes : 0;
    for (const digest of blobs) {
      if (blobIn.get(digest, ...args) === undefined) added += (size.get(digest) as number | undefined) ?? 0;
    }
    return added;
  }

  unreferencedBlobBytes(): Promise<{ blobs: number; bytes: number }> {
    const row = this.#sql(
      `SELECT count(*) AS blobs, coalesce(sum(size), 0) AS bytes FROM blobs b
       WHERE NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.child = b.digest AND mr.kind = 'blob')`,
    ).get() as { blobs: number; bytes: number };
    return Promise.resolve(row);
  }

  // ---- policies (PolicyStore; docs/lifecycle.md) ----

  listAllRepositories(): Promise<string[]> {
    return Promise.resolve(this.#sql('SELECT name FROM repositories ORDER BY name').pluck().all() as string[]);
  }

  listTagRows(repository: string): Promise<TagRow[]> {
    const rows = this.#sql(
      `SELECT t.name, m.digest, t.updated_at AS updatedAt FROM repositories r
         JOIN tags t ON t.repository_id = r.id JOIN manifests m ON m.id = t.manifest_id
       WHERE r.name = ? ORDER BY t.updated_at DESC, t.name`,
    ).all(repository) as TagRow[];
    return Promise.resolve(rows);
  }

  removeUntagged(
    repository: string,
    options: { readonly deleteTags?: readonly string[]; readonly untaggedBefore?: number },
    dryRun: boolean,
    events?: RemovalEvents,
  ): Promise<{ tags: string[]; manifests: string[] }> {
    const record = (removed: Parameters<RemovalEvents>[0]): void => {
      const event = events?.(removed);
      if (event !== undefined) this.#appendEvents([event], Date.now());
    };
    const outcome = { tags: [] as string[], manifests: [] as string[] };
    const work = (): void => {
      const repositoryId = this.#repositoryId(repository);
      if (repositoryId === undefined) return;
      const candidates = new Set<number>();
      for (const tag of options.deleteTags ?? []) {
        const row = this.#sql('SELECT manifest_id FROM tags WHERE repository_id = ? AND name = ?').get(repositoryId, tag) as { manifest_id: number } | undefined;
        if (row === undefined) continue;
        this.#sql('DELETE FROM tags WHERE repository_id = ? AND name = ?').run(repositoryId, tag);
        this.#sql('DELETE FROM upstream_tag_confirmations WHERE repository = ? AND tag = ?').run(repository, tag);
        outcome.tags.push(tag);
        if (events !== undefined) record({ kind: 'tag', repository, tag, digest: this.#sql('SELECT digest FROM manifests WHERE id = ?').pluck().get(row.manifest_id) as string });
        candidates.add(row.manifest_id);
      }
      if (options.untaggedBefore !== undefined) {
        const old = this.#sql(
          `SELECT rm.manifest_id FROM repository_manifests rm
           WHERE rm.repository_id = ? AND coalesce(rm.untagged_at, rm.created_at) <= ?
             AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = rm.repository_id AND t.manifest_id = rm.manifest_id)`,
        ).pluck().all(repositoryId, options.untaggedBefore) as number[];
        for (const id of old) candidates.add(id);
      }
      const untagged = this.#sql('SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = ? AND rm.manifest_id = ? AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = rm.repository_id AND t.manifest_id = rm.manifest_id)');
      // Held: a child of an index still in the repository, or a referrer whose subject is.
      const held = this.#sql(
        `SELECT 1 FROM manifests m WHERE m.id = ? AND (
           EXISTS (SELECT 1 FROM manifest_references mr JOIN repository_manifests rm ON rm.manifest_id = mr.manifest_id AND rm.repository_id = ?
                   WHERE mr.child = m.digest AND mr.kind = 'manifest')
           OR (m.subject IS NOT NULL AND EXISTS (SELECT 1 FROM repository_manifests rm JOIN manifests s ON s.id = rm.manifest_id
                   WHERE rm.repository_id = ? AND s.digest = m.subject)))`,
      );
      const followers = this.#sql(
        `SELECT rm.manifest_id FROM repository_manifests rm JOIN manifests m ON m.id = rm.manifest_id
         WHERE rm.repository_id = ? AND (m.subject = ? OR m.digest IN (SELECT child FROM manifest_references WHERE manifest_id = ? AND kind = 'manifest'))`,
      );
      // To a fixpoint: removing an index frees its children, removing a subject its referrers.
      for (let progress = true; progress; ) {
        progress = false;
        for (const id of [...candidates]) {
          if (untagged.get(repositoryId, id) === undefined) {
            candidates.delete(id);
            continue;
          }
          if (held.get(id, repositoryId, repositoryId) !== undefined) continue;
          const digest = this.#sql('SELECT digest FROM manifests WHERE id = ?').pluck().get(id) as string;
          this.#sql('DELETE FROM repository_manifests WHERE repository_id = ? AND manifest_id = ?').run(repositoryId, id);
          outcome.manifests.push(digest);
          record({ kind: 'manifest', repository, digest });
          candidates.delete(id);
          for (const follower of followers.pluck().all(repositoryId, digest, id) as number[]) candidates.add(follower);
          progress = true;
        }
      }
      if (dryRun) throw new DryRunRollback();
    };
    try {
      this.#db.transaction(work).immediate();
    } catch (error) {
      if (!(error instanceof DryRunRollback)) return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return Promise.resolve(outcome);
  }

  /** Runs work in an IMMEDIATE transaction (a deferred, read-only one for a dry run). */
  #lifecycleTransaction<T>(work: () => T, readOnly: boolean): Promise<T> {
    try {
      const transaction = this.#db.transaction(work);
      return Promise.resolve(readOnly ? transaction.deferred() : transaction.immediate());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  // ---- browsing (BrowseStore; docs/api.md) ----

  searchRepositories(search: RepositorySearch): Promise<RepositorySummary[]> {
    const summary = `SELECT r.name, (SELECT count(*) FROM (SELECT 1 FROM tags t WHERE t.repository_id = r.id LIMIT ${TAG_COUNT_CAP})) AS tags,
                            (SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = r.id) AS pushedAt`;
    const stored = 'EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = r.id)';
    const after = search.after ?? '';
    return this.#settle(() => {
      if (search.contains.length < 3) {
        // Walks the name index from `after` and stops at `limit` matches.
        return this.#sql(
          `${summary} FROM repositories r WHERE r.name > ? AND (? = '' OR instr(r.name, ?) > 0) AND ${stored} ORDER BY r.name LIMIT ?`,
        ).all(after, search.contains, search.contains, search.limit) as RepositorySummary[];
      }
      // The next SEARCH_SCAN_WINDOW names first (SEARCH_SCAN_WINDOW, browse.ts), then the trigram index.
      const found = this.#sql(
        `${summary} FROM (SELECT id, name FROM repositories WHERE name > ? ORDER BY name LIMIT ${SEARCH_SCAN_WINDOW}) r
          WHERE instr(r.name, ?) > 0 AND ${stored} ORDER BY r.name LIMIT ?`,
      ).all(after, search.contains, search.limit) as RepositorySummary[];
      if (found.length >= search.limit) return found;
      const windowEnd = this.#sql(`SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT 1 OFFSET ${SEARCH_SCAN_WINDOW - 1}`).pluck().get(after) as string | undefined;
      if (windowEnd === undefined) return found;
      const rest = this.#sql(
        `${summary} FROM repositories r
          WHERE r.id IN (SELECT rowid FROM repository_names WHERE repository_names MATCH ?)
            AND r.name > ? AND instr(r.name, ?) > 0 AND ${stored} ORDER BY r.name LIMIT ?`,
      ).all(`"${search.contains.replaceAll('"', '""')}"`, windowEnd, search.contains, search.limit - found.length) as RepositorySummary[];
      return [...found, ...rest];
    });
  }

  nextRepositoryName(after: string, before: string): Promise<string | undefined> {
    return this.#settle(
      () =>
        this.#sql(
          `SELECT r.name FROM repositories r
            WHERE r.name > ? AND r.name < ? AND EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.repository_id = r.id)
            ORDER BY r.name LIMIT 1`,
        ).pluck().get(after, before) as string | undefined,
    );
  }

  getRepositorySummary(repository: string): Promise<RepositorySummary | undefined> {
    return this.#settle(
      () =>
        this.#sql(
          `SELECT r.name, (SELECT count(*) FROM (SELECT 1 FROM tags t WHERE t.repository_id = r.id LIMIT ${TAG_COUNT_CAP})) AS tags,
                  (SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = r.id) AS pushedAt
             FROM repositories r WHERE r.name = ?`,
        ).get(repository) as RepositorySummary | undefined,
    );
  }

  listTagDetails(repository: string, cursor: TagCursor, limit: number): Promise<TagDetail[] | undefined> {
    return this.#settle(() => {
      const repositoryId = this.#repositoryId(repository);
      if (repositoryId === undefined) return undefined;
      const select = `SELECT t.name, m.digest, m.media_type AS mediaType, ${MANIFEST_SIZE} AS size, t.updated_at AS pushedAt
                        FROM tags t JOIN manifests m ON m.id = t.manifest_id`;
      if (cursor.sort === 'name') {
        return this.#sql(`${select} WHERE t.repository_id = ? AND t.name > ? ORDER BY t.name LIMIT ?`).all(repositoryId, cursor.after ?? '', limit) as TagDetail[];
      }
      if (cursor.after === undefined) {
        return this.#sql(`${select} WHERE t.repository_id = ? ORDER BY t.updated_at DESC, t.name LIMIT ?`).all(repositoryId, limit) as TagDetail[];
      }
      const { pushedAt, name } = cursor.after;
      return this.#sql(
        `${select} WHERE t.repository_id = ? AND (t.updated_at < ? OR (t.updated_at = ? AND t.name > ?))
          ORDER BY t.updated_at DESC, t.name LIMIT ?`,
      ).all(repositoryId, pushedAt, pushedAt, name, limit) as TagDetail[];
    });
  }

  getManifestSummary(repository: string, digest: string): Promise<ManifestSummary | undefined> {
    return this.#settle(() => {
      const row = this.#sql(
        `SELECT m.id, r.id AS repositoryId, m.digest, m.media_type AS mediaType, ${MANIFEST_SIZE} AS size, m.artifact_type AS artifactType,
                m.subject, rm.created_at AS createdAt
           FROM repositories r JOIN repository_manifests rm ON rm.repository_id = r.id
           JOIN manifests m ON m.id = rm.manifest_id AND m.digest = ?
          WHERE r.name = ?`,
      ).get(digest, repository) as (Omit<ManifestSummary, 'tags' | 'parents' | 'referrers'> & { id: number; repositoryId: number }) | undefined;
      if (row === undefined) return undefined;
      const { id, repositoryId, ...summary } = row;
      const tags = this.#sql('SELECT name FROM tags WHERE repository_id = ? AND manifest_id = ? ORDER BY name').pluck().all(repositoryId, id) as string[];
      const parents = this.#sql(
        `SELECT p.digest FROM manifest_references mr JOIN manifests p ON p.id = mr.manifest_id
           JOIN repository_manifests rm ON rm.manifest_id = p.id AND rm.repository_id = ?
          WHERE mr.child = ? AND mr.kind = 'manifest' ORDER BY p.digest`,
      ).pluck().all(repositoryId, digest) as string[];
      const counts = this.#sql(
        `SELECT coalesce(m.artifact_type, '') AS artifactType, count(*) AS n FROM manifests m
           JOIN repository_manifests rm ON rm.manifest_id = m.id AND rm.repository_id = ?
          WHERE m.subject = ? GROUP BY 1 ORDER BY 1`,
      ).all(repositoryId, digest) as { artifactType: string; n: number }[];
      return { ...summary, tags, parents, referrers: Object.fromEntries(counts.map((count) => [count.artifactType, count.n])) };
    });
  }

  // ---- garbage-collector runs (GcRunStore) ----

  recordGcRun(run: GcRunRow): Promise<void> {
    return this.#settle(() =>
      this.#db.transaction(() => {
        this.#sql(
          `INSERT INTO gc_runs (started_at, finished_at, trigger, manifests, blobs, bytes_reclaimed, orphans, orphan_bytes, policy_tags, policy_manifests)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(run.startedAt, run.finishedAt, run.trigger, run.manifests, run.blobs, run.bytesReclaimed, run.orphans, run.orphanBytes, run.policyTags, run.policyManifests);
        this.#sql(`DELETE FROM gc_runs WHERE id <= (SELECT max(id) FROM gc_runs) - ${GC_RUNS_KEPT}`).run();
      }).immediate(),
    );
  }

  listGcRuns(limit: number): Promise<GcRunRow[]> {
    return this.#settle(
      () =>
        this.#sql(
          `SELECT started_at AS startedAt, finished_at AS finishedAt, trigger, manifests, blobs, bytes_reclaimed AS bytesReclaimed,
                  orphans, orphan_bytes AS orphanBytes, policy_tags AS policyTags, policy_manifests AS policyManifests
             FROM gc_runs ORDER BY id DESC LIMIT ?`,
        ).all(limit) as GcRunRow[],
    );
  }

  // ---- notification outbox (EventStore; src/metadata/event-store.ts) ----

  appendEvents(events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.#settle(() => this.#db.transaction(() => this.#appendEvents(events, Date.now())).immediate());
  }

  openEndpoint(endpoint: string): Promise<void> {
    return this.#settle(() => {
      this.#sql(
        `INSERT INTO event_endpoints (name, delivered_seq, lease_owner, lease_until, used_at)
         VALUES (?, (SELECT coalesce(max(seq), 0) FROM event_outbox), NULL, 0, ?) ON CONFLICT (name) DO UPDATE SET used_at = excluded.used_at`,
      ).run(endpoint, Date.now());
    });
  }

  acquireLease(endpoint: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.#settle(() => {
      const now = Date.now();
      const result = this.#sql(
        `UPDATE event_endpoints SET lease_owner = ?, lease_until = ?, used_at = ?
         WHERE name = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until <= ?)`,
      ).run(owner, now + leaseMs, now, endpoint, owner, now);
      return result.changes > 0;
    });
  }

  releaseLease(endpoint: string, owner: string): Promise<void> {
    return this.#settle(() => {
      this.#sql('UPDATE event_endpoints SET lease_owner = NULL, lease_until = 0 WHERE name = ? AND lease_owner = ?').run(endpoint, owner);
    });
  }

  claimBatch(endpoint: string, limit: number): Promise<StoredEvent[]> {
    return this.#settle(
      () =>
        this.#sql(
          `SELECT e.seq, e.repository, e.payload, e.created_at AS createdAt FROM event_outbox e
           WHERE e.seq > (SELECT delivered_seq FROM event_endpoints WHERE name = ?) ORDER BY e.seq LIMIT ?`,
        ).all(endpoint, limit) as StoredEvent[],
    );
  }

  markDelivered(endpoint: string, owner: string, seq: number): Promise<boolean> {
    return this.#settle(() => {
      const now = Date.now();
      const result = this.#sql(
        `UPDATE event_endpoints SET delivered_seq = max(delivered_seq, ?), used_at = ?
         WHERE name = ? AND lease_owner = ? AND lease_until > ?`,
      ).run(seq, now, endpoint, owner, now);
      return result.changes > 0;
    });
  }

  eventBacklog(endpoints: readonly string[]): Promise<EndpointBacklog[]> {
    return this.#settle(() =>
      endpoints.map((endpoint) => {
        const row = this.#sql(
          `SELECT count(*) AS pending, min(e.created_at) AS oldestAt FROM event_outbox e
           WHERE e.seq > coalesce((SELECT delivered_seq FROM event_endpoints WHERE name = ?), (SELECT coalesce(max(seq), 0) FROM event_outbox))`,
        ).get(endpoint) as { pending: number; oldestAt: number | null };
        return { endpoint, pending: row.pending, oldestAt: row.oldestAt ?? undefined };
      }),
    );
  }

  pruneEvents(staleMs: number): Promise<number> {
    return this.#settle(() =>
      this.#db.transaction((): number => {
        this.#sql('DELETE FROM event_endpoints WHERE used_at < ?').run(Date.now() - staleMs);
        const floor = this.#sql('SELECT min(delivered_seq) FROM event_endpoints').pluck().get() as number | null;
        // No endpoint at all: nothing will ever deliver what is there.
        const result = floor === null ? this.#sql('DELETE FROM event_outbox').run() : this.#sql('DELETE FROM event_outbox WHERE seq <= ?').run(floor);
        return result.changes;
      }).immediate(),
    );
  }

  // ---- a Berth store as the source of berth import (ExportStore; docs/import.md) ----

  readRepositoryContents(repository: string): Promise<RepositoryContents> {
    return this.#settle(() =>
      this.#db.transaction(() => {
        const blobs = this.#sql('SELECT b.digest FROM repository_blobs b JOIN repositories r ON r.id = b.repository_id WHERE r.name = ? ORDER BY b.digest').pluck().all(repository) as string[];
        const manifests = this.#sql(
          'SELECT m.digest FROM repository_manifests rm JOIN repositories r ON r.id = rm.repository_id JOIN manifests m ON m.id = rm.manifest_id WHERE r.name = ? ORDER BY m.digest',
        )
          .pluck()
          .all(repository) as string[];
        const tags = this.#sql('SELECT t.name, m.digest FROM tags t JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id WHERE r.name = ? ORDER BY t.name').all(repository) as {
          name: string;
          digest: string;
        }[];
        return { blobs, manifests, tags: new Map(tags.map((tag) => [tag.name, tag.digest])) };
      })(),
    );
  }

  getManifestPayload(digest: string): Promise<Buffer | undefined> {
    return this.#settle(() => this.#sql('SELECT payload FROM manifests WHERE digest = ?').pluck().get(digest) as Buffer | undefined);
  }

  // ---- the import journal (ImportStore; docs/import.md) ----

  getImportedRepository(source: string, repository: string): Promise<ImportedRepository | undefined> {
    const row = this.#sql('SELECT fingerprint, imported_at AS importedAt FROM import_journal WHERE source = ? AND repository = ?').get(source, repository) as
      | ImportedRepository
      | undefined;
    return Promise.resolve(row);
  }

  getImportedRepositories(source: string, repositories: readonly string[]): Promise<Map<string, ImportedRepository>> {
    return this.#settle(() => {
      const rows = this.#sql('SELECT repository, fingerprint, imported_at AS importedAt FROM import_journal WHERE source = ? AND repository IN (SELECT value FROM json_each(?))').all(
        source,
        JSON.stringify(repositories),
      ) as (ImportedRepository & { repository: string })[];
      return new Map(rows.map(({ repository, ...entry }) => [repository, entry]));
    });
  }

  linkBlobs(repository: string, blobs: readonly (BlobRow & { readonly bytesPresentSince: number })[]): Promise<string[]> {
    const now = Date.now();
    // Each blob in a savepoint of its own (a nested transaction): a collected one is rolled back alone.
    const link = this.#db.transaction((repositoryId: number, blob: BlobRow & { readonly bytesPresentSince: number }) => this.#linkBlobRow(repositoryId, { digest: blob.digest, size: blob.size }, blob.bytesPresentSince, now));
    return this.#settle(() =>
      this.#db.transaction((): string[] => {
        if (blobs.length === 0) return [];
        const repositoryId = this.#ensureRepository(repository, now);
        const collected: string[] = [];
        for (const blob of blobs) {
          try {
            link(repositoryId, blob);
          } catch (error) {
            if (!(error instanceof BlobCollectedError)) throw error;
            collected.push(blob.digest);
          }
        }
        return collected;
      }).immediate(),
    );
  }

  putManifests(manifests: readonly NewManifest[]): Promise<PutManifestResult[]> {
    const now = Date.now();
    // Only an immutable tag refuses after writing: those in a savepoint of their own (a nested transaction).
    const guarded = this.#db.transaction((manifest: NewManifest) => this.#putManifestRows(manifest, undefined, now));
    return this.#settle(() =>
      this.#db.transaction((): PutManifestResult[] =>
        manifests.map((manifest) => {
          if (manifest.immutableTag !== true) return this.#putManifestRows(manifest, undefined, now);
          try {
            return guarded(manifest);
          } catch (error) {
            if (error instanceof ImmutableTagRefusal) return { ok: false, immutable: true, current: error.current };
            throw error;
          }
        }),
      ).immediate(),
    );
  }

  recordImportedRepository(source: string, repository: string, fingerprint: string): Promise<void> {
    return this.#settle(() => {
      this.#sql(
        `INSERT INTO import_journal (source, repository, fingerprint, imported_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (source, repository) DO UPDATE SET fingerprint = excluded.fingerprint, imported_at = excluded.imported_at`,
      ).run(source, repository, fingerprint, Date.now());
    });
  }

  forgetImportSource(source: string): Promise<void> {
    return this.#settle(() => {
      this.#sql('DELETE FROM import_journal WHERE source = ?').run(source);
    });
  }

  async close(): Promise<void> {
    // The worker first: this connection, closing last, then checkpoints what is left and removes the WAL.
    await this.#checkpointer?.close();
    this.#db.close();
  }
}

/**
 * A manifest's size as the UI shows it (SQL over `m`): its payload, the blobs it references, and the
 * payloads and blobs of its child manifests (an index; a layer shared by two children counts twice).
 */
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

/** Thrown at the end of a dry run's transaction so that it rolls back. */
class DryRunRollback extends Error {}
