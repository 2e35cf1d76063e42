// The embedded metadata store: SQLite through better-sqlite3 (synchronous, in-process, WAL).
// Every statement is prepared once; multi-step writes are IMMEDIATE transactions so that several
// processes (cluster workers) sharing the file serialise their writes.
import Database from 'better-sqlite3';
import type {
  BlobRow,
  ManifestRow,
  MetadataStore,
  NewManifest,
  Page,
  PutManifestResult,
  ReferrerRow,
  UploadRow,
} from '../store.js';
import { MIGRATIONS } from './schema.js';

export interface SqliteOptions {
  readonly path: string;
  /** PRAGMA synchronous: FULL survives power loss; NORMAL (the default) survives a killed process. */
  readonly synchronous?: 'FULL' | 'NORMAL';
}

type Statement = Database.Statement<unknown[], unknown>;

export class SqliteStore implements MetadataStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Statement>();

  constructor(options: SqliteOptions) {
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.#db.pragma('busy_timeout = 10000');
    // 32 MiB of page cache (the default is 2 MiB): index pages of a million tags stay in memory.
    this.#db.pragma('cache_size = -32768');
    this.#db.pragma('foreign_keys = ON');
    this.#migrate();
  }

  #migrate(): void {
    const applied = this.#db.pragma('user_version', { simple: true }) as number;
    for (let version = applied; version < MIGRATIONS.length; version++) {
      this.#db.transaction(() => {
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
    this.#sql('INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(name, now);
    return this.#repositoryId(name) as number;
  }

  hasRepository(repository: string): Promise<boolean> {
    return Promise.resolve(this.#repositoryId(repository) !== undefined);
  }

  getRepositoryBlob(repository: string, digest: string): Promise<BlobRow | undefined> {
    const row = this.#sql(
      `SELECT b.digest, b.size FROM repositories r
         JOIN repository_blobs rb ON rb.repository_id = r.id AND rb.digest = ?
         JOIN blobs b ON b.digest = rb.digest
       WHERE r.name = ?`,
    ).get(digest, repository) as BlobRow | undefined;
    return Promise.resolve(row);
  }

  getBlob(digest: string): Promise<BlobRow | undefined> {
    return Promise.resolve(this.#sql('SELECT digest, size FROM blobs WHERE digest = ?').get(digest) as BlobRow | undefined);
  }

  linkBlob(repository: string, blob: BlobRow, completedUpload?: string): Promise<void> {
    const now = Date.now();
    this.#db.transaction(() => {
      if (completedUpload !== undefined) this.#sql('DELETE FROM uploads WHERE id = ?').run(completedUpload);
      const repositoryId = this.#ensureRepository(repository, now);
      this.#sql('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING').run(blob.digest, blob.size, now);
      this.#sql('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(repositoryId, blob.digest, now);
    }).immediate();
    return Promise.resolve();
  }

  unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const result = this.#sql(
      'DELETE FROM repository_blobs WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)',
    ).run(digest, repository);
    return Promise.resolve(result.changes > 0);
  }

  getManifestByDigest(repository: string, digest: string): Promise<ManifestRow | undefined> {
    const row = this.#sql(
      `SELECT m.digest, m.media_type AS mediaType, m.payload FROM manifests m
         JOIN repository_manifests rm ON rm.manifest_id = m.id
         JOIN repositories r ON r.id = rm.repository_id AND r.name = ?
       WHERE m.digest = ?`,
    ).get(repository, digest) as ManifestRow | undefined;
    return Promise.resolve(row);
  }

  getManifestByTag(repository: string, tag: string): Promise<ManifestRow | undefined> {
    const row = this.#sql(
      `SELECT m.digest, m.media_type AS mediaType, m.payload FROM repositories r
         JOIN tags t ON t.repository_id = r.id AND t.name = ?
         JOIN manifests m ON m.id = t.manifest_id
       WHERE r.name = ?`,
    ).get(tag, repository) as ManifestRow | undefined;
    return Promise.resolve(row);
  }

  putManifest(manifest: NewManifest): Promise<PutManifestResult> {
    const now = Date.now();
    const result = this.#db.transaction((): PutManifestResult => {
      const repositoryId = this.#ensureRepository(manifest.repository, now);
      for (const digest of manifest.blobs) {
        const found = this.#sql('SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?').get(repositoryId, digest);
        if (found === undefined) return { ok: false, missing: 'blob', digest };
      }
      for (const digest of manifest.manifests) {
        const found = this.#sql(
          'SELECT 1 FROM repository_manifests rm JOIN manifests m ON m.id = rm.manifest_id WHERE rm.repository_id = ? AND m.digest = ?',
        ).get(repositoryId, digest);
        if (found === undefined) return { ok: false, missing: 'manifest', digest };
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
      if (manifest.tag !== null) {
        this.#sql(
          `INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`,
        ).run(repositoryId, manifest.tag, manifestId, now);
      }
      return { ok: true };
    }).immediate();
    return Promise.resolve(result);
  }

  deleteManifest(repository: string, digest: string): Promise<boolean> {
    const deleted = this.#db.transaction((): boolean => {
      const repositoryId = this.#repositoryId(repository);
      const manifestId = (this.#sql('SELECT id FROM manifests WHERE digest = ?').get(digest) as { id: number } | undefined)?.id;
      if (repositoryId === undefined || manifestId === undefined) return false;
      this.#sql('DELETE FROM tags WHERE repository_id = ? AND manifest_id = ?').run(repositoryId, manifestId);
      return this.#sql('DELETE FROM repository_manifests WHERE repository_id = ? AND manifest_id = ?').run(repositoryId, manifestId).changes > 0;
    }).immediate();
    return Promise.resolve(deleted);
  }

  deleteTag(repository: string, tag: string): Promise<boolean> {
    const result = this.#sql('DELETE FROM tags WHERE name = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)').run(tag, repository);
    return Promise.resolve(result.changes > 0);
  }

  listTags(repository: string, page: Page): Promise<string[] | undefined> {
    const repositoryId = this.#repositoryId(repository);
    if (repositoryId === undefined) return Promise.resolve(undefined);
    const rows = this.#sql('SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?').pluck().all(
      repositoryId,
      page.after ?? '',
      page.limit,
    ) as string[];
    return Promise.resolve(rows);
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

  listUploadsStartedBefore(time: number, limit: number): Promise<UploadRow[]> {
    const rows = this.#sql('SELECT id, repository, started_at AS startedAt FROM uploads WHERE started_at < ? ORDER BY started_at LIMIT ?').all(
      time,
      limit,
    ) as UploadRow[];
    return Promise.resolve(rows);
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}
