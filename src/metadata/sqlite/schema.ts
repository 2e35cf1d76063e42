// SQLite schema migrations, applied in order; PRAGMA user_version records how many ran.
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE repositories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories (id),
    digest TEXT NOT NULL REFERENCES blobs (digest),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
  ) WITHOUT ROWID;
  CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

  CREATE TABLE manifests (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL,
    artifact_type TEXT,
    annotations TEXT,
    subject TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX manifests_by_subject ON manifests (subject) WHERE subject IS NOT NULL;
  -- What a manifest needs: blobs (config, layers) and child manifests (index entries).
  CREATE TABLE manifest_references (
    manifest_id INTEGER NOT NULL REFERENCES manifests (id),
    child TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (manifest_id, kind, child)
  ) WITHOUT ROWID;
  CREATE INDEX manifest_references_by_child ON manifest_references (child, kind);
  CREATE TABLE repository_manifests (
    repository_id INTEGER NOT NULL REFERENCES repositories (id),
    manifest_id INTEGER NOT NULL REFERENCES manifests (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repository_id, manifest_id)
  ) WITHOUT ROWID;
  CREATE INDEX repository_manifests_by_manifest ON repository_manifests (manifest_id);
  CREATE TABLE tags (
    repository_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    manifest_id INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, manifest_id) REFERENCES repository_manifests (repository_id, manifest_id)
  ) WITHOUT ROWID;
  CREATE INDEX tags_by_manifest ON tags (repository_id, manifest_id);

  CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    started_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX uploads_by_start ON uploads (started_at);
  `,
  // 2: lifecycle (docs/gc.md). Review queues of GC candidates, fed by triggers where a reference
  // disappears (and by linkBlob, which bumps a blob it links); byte deletions in progress, which
  // linkBlob consults so that a blob committed while its old bytes were being deleted is never
  // recorded over missing bytes. event_at is when the candidate last gained or lost a reference;
  // the collector takes candidates whose event_at is older than its review delay.
  `
  CREATE TABLE gc_blob_review_queue (
    digest TEXT PRIMARY KEY,
    event_at INTEGER NOT NULL,
    event TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX gc_blob_review_queue_by_time ON gc_blob_review_queue (event_at);
  CREATE TABLE gc_manifest_review_queue (
    digest TEXT PRIMARY KEY,
    event_at INTEGER NOT NULL,
    event TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX gc_manifest_review_queue_by_time ON gc_manifest_review_queue (event_at);
  CREATE TABLE gc_blob_deletions (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER
  ) WITHOUT ROWID;

  -- When a manifest in a repository lost its last tag (for the untagged-manifest policy).
  ALTER TABLE repository_manifests ADD COLUMN untagged_at INTEGER;
  CREATE TRIGGER lifecycle_tag_removed AFTER DELETE ON tags BEGIN
    UPDATE repository_manifests SET untagged_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
      WHERE repository_id = OLD.repository_id AND manifest_id = OLD.manifest_id;
  END;
  CREATE TRIGGER lifecycle_tag_moved AFTER UPDATE OF manifest_id ON tags WHEN OLD.manifest_id <> NEW.manifest_id BEGIN
    UPDATE repository_manifests SET untagged_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
      WHERE repository_id = OLD.repository_id AND manifest_id = OLD.manifest_id;
  END;

  -- A manifest leaves a repository (delete by digest, untagged policy, retention).
  CREATE TRIGGER gc_repository_manifest_removed AFTER DELETE ON repository_manifests BEGIN
    INSERT INTO gc_manifest_review_queue (digest, event_at, event)
      SELECT digest, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'manifest_removed' FROM manifests WHERE id = OLD.manifest_id
      ON CONFLICT (digest) DO UPDATE SET event_at = max(event_at, excluded.event_at), event = excluded.event;
  END;
  -- A manifest row is collected: its blobs and child manifests lose a reference.
  CREATE TRIGGER gc_manifest_reference_removed AFTER DELETE ON manifest_references BEGIN
    INSERT INTO gc_blob_review_queue (digest, event_at, event)
      SELECT OLD.child, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'reference_removed' WHERE OLD.kind = 'blob'
      ON CONFLICT (digest) DO UPDATE SET event_at = max(event_at, excluded.event_at), event = excluded.event;
    INSERT INTO gc_manifest_review_queue (digest, event_at, event)
      SELECT OLD.child, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'reference_removed' WHERE OLD.kind = 'manifest'
      ON CONFLICT (digest) DO UPDATE SET event_at = max(event_at, excluded.event_at), event = excluded.event;
  END;
  -- A blob is unlinked from a repository (blob DELETE).
  CREATE TRIGGER gc_repository_blob_removed AFTER DELETE ON repository_blobs BEGIN
    INSERT INTO gc_blob_review_queue (digest, event_at, event)
      VALUES (OLD.digest, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'blob_unlinked')
      ON CONFLICT (digest) DO UPDATE SET event_at = max(event_at, excluded.event_at), event = excluded.event;
  END;
  `,
  // 3: uploads are looked up by id only. Purging scans the (small) table of sessions in flight instead
  // of every session's start and completion writing an index page.
  `
  DROP INDEX uploads_by_start;
  `,
  // 4: the notification outbox (src/metadata/event-store.ts). Events are appended in the
  // transaction of the change they report; AUTOINCREMENT so that a seq is never reused once pruned
  // (a cursor past it would skip the new event). One cursor and lease per endpoint.
  `
  CREATE TABLE event_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    repository TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE event_endpoints (
    name TEXT PRIMARY KEY,
    delivered_seq INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    used_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 5: the web UI's tag listings sorted by push time, newest first (src/metadata/browse.ts).
  `
  CREATE INDEX tags_by_push ON tags (repository_id, updated_at DESC, name);
  `,
  // 6: the import journal (src/metadata/import-store.ts): one row per repository of a source that
  // `berth import` finished, with the fingerprint of what the source held then.
  `
  CREATE TABLE import_journal (
    source TEXT NOT NULL,
    repository TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (source, repository)
  ) WITHOUT ROWID;
  `,
  // 7: the history of garbage-collector runs (src/metadata/gc-runs.ts), for the web UI.
  `
  CREATE TABLE gc_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    manifests INTEGER NOT NULL,
    blobs INTEGER NOT NULL,
    bytes_reclaimed INTEGER NOT NULL,
    orphans INTEGER NOT NULL,
    orphan_bytes INTEGER NOT NULL,
    policy_tags INTEGER NOT NULL,
    policy_manifests INTEGER NOT NULL
  );
  `,
  // The shared state of an upload session (src/metadata/store.ts UploadState): what another
  // process needs to continue it (the saved running hash) and who writes to it now.
  `
  ALTER TABLE uploads ADD COLUMN hashed_offset INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE uploads ADD COLUMN hash_state BLOB;
  ALTER TABLE uploads ADD COLUMN writer TEXT;
  ALTER TABLE uploads ADD COLUMN writer_until INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE uploads ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
  `,
  // State shared by every process of a deployment (src/metadata/shared-state.ts): named values (the
  // token signing key) and the failed-login windows of the limiter.
  `
  CREATE TABLE shared_values (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE login_failures (
    client TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // The web UI's repository search (src/metadata/browse.ts): a trigram index of repository names,
  // so that a search for a rare substring reads its matches, not the whole name index. External
  // content (the names stay in repositories), kept in step by triggers.
  `
  CREATE VIRTUAL TABLE repository_names USING fts5(name, content = 'repositories', content_rowid = 'id', tokenize = 'trigram case_sensitive 1');
  INSERT INTO repository_names (repository_names) VALUES ('rebuild');
  CREATE TRIGGER repository_names_inserted AFTER INSERT ON repositories BEGIN
    INSERT INTO repository_names (rowid, name) VALUES (new.id, new.name);
  END;
  CREATE TRIGGER repository_names_deleted AFTER DELETE ON repositories BEGIN
    INSERT INTO repository_names (repository_names, rowid, name) VALUES ('delete', old.id, old.name);
  END;
  CREATE TRIGGER repository_names_updated AFTER UPDATE OF name ON repositories BEGIN
    INSERT INTO repository_names (repository_names, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO repository_names (rowid, name) VALUES (new.id, new.name);
  END;
  `,
  // Leases (src/metadata/shared-state.ts): a named piece of work that one process at a time does,
  // held until a time its holder keeps pushing forward (a proxy fill of one blob, across workers).
  `
  CREATE TABLE work_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // When an upstream last confirmed a proxied tag (src/metadata/shared-state.ts): the pull-through
  // cache revalidates a tag once per TTL across workers and restarts. Valid only while the tag still
  // names `digest`, so a row left by a deleted tag confirms nothing.
  `
  CREATE TABLE upstream_tag_confirmations (
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    confirmed_at INTEGER NOT NULL,
    PRIMARY KEY (repository, tag)
  ) WITHOUT ROWID;
  `,
  // When a manifest of a repository was last pulled (src/metadata/proxy-cache.ts): the pull-through
  // cache's eviction, least recently pulled first. NULL: not pulled since it was stored.
  `
  ALTER TABLE repository_manifests ADD COLUMN last_pulled_at INTEGER;
  `,
];
