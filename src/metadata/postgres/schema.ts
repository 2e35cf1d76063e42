// PostgreSQL schema migrations (`berth database migrate up|down|status`), applied in order, each in
// its own transaction; berth_schema_migrations records the versions applied. The tables mirror the
// SQLite schema (src/metadata/sqlite/schema.ts): same names, same review-queue triggers. Times are
// milliseconds since the epoch (bigint), taken by berth_now_ms() inside triggers.
export interface PostgresMigration {
  readonly up: string;
  readonly down: string;
}

export const MIGRATIONS_TABLE = 'berth_schema_migrations';

export const MIGRATIONS: readonly PostgresMigration[] = [
  {
    up: `
    CREATE FUNCTION berth_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS
      $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

    CREATE TABLE repositories (
      id bigserial PRIMARY KEY,
      name text COLLATE "C" NOT NULL UNIQUE,
      created_at bigint NOT NULL
    );
    CREATE TABLE blobs (
      digest text COLLATE "C" PRIMARY KEY,
      size bigint NOT NULL,
      created_at bigint NOT NULL
    );
    CREATE TABLE repository_blobs (
      repository_id bigint NOT NULL REFERENCES repositories (id),
      digest text COLLATE "C" NOT NULL REFERENCES blobs (digest),
      created_at bigint NOT NULL,
      PRIMARY KEY (repository_id, digest)
    );
    CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

    CREATE TABLE manifests (
      id bigserial PRIMARY KEY,
      digest text COLLATE "C" NOT NULL UNIQUE,
      media_type text NOT NULL,
      size bigint NOT NULL,
      payload bytea NOT NULL,
      artifact_type text,
      annotations text,
      subject text COLLATE "C",
      created_at bigint NOT NULL
    );
    CREATE INDEX manifests_by_subject ON manifests (subject) WHERE subject IS NOT NULL;
    CREATE TABLE manifest_references (
      manifest_id bigint NOT NULL REFERENCES manifests (id),
      child text COLLATE "C" NOT NULL,
      kind text NOT NULL CHECK (kind IN ('blob', 'manifest')),
      PRIMARY KEY (manifest_id, kind, child)
    );
    CREATE INDEX manifest_references_by_child ON manifest_references (child, kind);
    CREATE TABLE repository_manifests (
      repository_id bigint NOT NULL REFERENCES repositories (id),
      manifest_id bigint NOT NULL REFERENCES manifests (id),
      created_at bigint NOT NULL,
      untagged_at bigint,
      PRIMARY KEY (repository_id, manifest_id)
    );
    CREATE INDEX repository_manifests_by_manifest ON repository_manifests (manifest_id);
    CREATE TABLE tags (
      repository_id bigint NOT NULL,
      name text COLLATE "C" NOT NULL,
      manifest_id bigint NOT NULL,
      updated_at bigint NOT NULL,
      PRIMARY KEY (repository_id, name),
      FOREIGN KEY (repository_id, manifest_id) REFERENCES repository_manifests (repository_id, manifest_id)
    );
    CREATE INDEX tags_by_manifest ON tags (repository_id, manifest_id);

    CREATE TABLE uploads (
      id text PRIMARY KEY,
      repository text NOT NULL,
      started_at bigint NOT NULL
    );

    CREATE TABLE gc_blob_review_queue (
      digest text COLLATE "C" PRIMARY KEY,
      event_at bigint NOT NULL,
      event text NOT NULL
    );
    CREATE INDEX gc_blob_review_queue_by_time ON gc_blob_review_queue (event_at);
    CREATE TABLE gc_manifest_review_queue (
      digest text COLLATE "C" PRIMARY KEY,
      event_at bigint NOT NULL,
      event text NOT NULL
    );
    CREATE INDEX gc_manifest_review_queue_by_time ON gc_manifest_review_queue (event_at);
    CREATE TABLE gc_blob_deletions (
      digest text COLLATE "C" PRIMARY KEY,
      size bigint NOT NULL,
      started_at bigint NOT NULL,
      finished_at bigint
    );

    CREATE FUNCTION berth_enqueue_blob(candidate text, what text) RETURNS void LANGUAGE sql AS $$
      INSERT INTO gc_blob_review_queue (digest, event_at, event) VALUES (candidate, berth_now_ms(), what)
      ON CONFLICT (digest) DO UPDATE SET event_at = greatest(gc_blob_review_queue.event_at, excluded.event_at), event = excluded.event
    $$;
    CREATE FUNCTION berth_enqueue_manifest(candidate text, what text) RETURNS void LANGUAGE sql AS $$
      INSERT INTO gc_manifest_review_queue (digest, event_at, event) VALUES (candidate, berth_now_ms(), what)
      ON CONFLICT (digest) DO UPDATE SET event_at = greatest(gc_manifest_review_queue.event_at, excluded.event_at), event = excluded.event
    $$;

    -- When a manifest in a repository lost its last tag (for the untagged-manifest policy).
    CREATE FUNCTION berth_tag_left() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' OR OLD.manifest_id <> NEW.manifest_id THEN
        UPDATE repository_manifests SET untagged_at = berth_now_ms()
          WHERE repository_id = OLD.repository_id AND manifest_id = OLD.manifest_id;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER lifecycle_tag_left AFTER DELETE OR UPDATE OF manifest_id ON tags FOR EACH ROW EXECUTE FUNCTION berth_tag_left();

    CREATE FUNCTION berth_repository_manifest_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM berth_enqueue_manifest(m.digest, 'manifest_removed') FROM manifests m WHERE m.id = OLD.manifest_id;
      RETURN NULL;
    END $$;
    CREATE TRIGGER gc_repository_manifest_removed AFTER DELETE ON repository_manifests FOR EACH ROW EXECUTE FUNCTION berth_repository_manifest_removed();

    CREATE FUNCTION berth_manifest_reference_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.kind = 'blob' THEN
        PERFORM berth_enqueue_blob(OLD.child, 'reference_removed');
      ELSE
        PERFORM berth_enqueue_manifest(OLD.child, 'reference_removed');
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER gc_manifest_reference_removed AFTER DELETE ON manifest_references FOR EACH ROW EXECUTE FUNCTION berth_manifest_reference_removed();

    CREATE FUNCTION berth_repository_blob_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM berth_enqueue_blob(OLD.digest, 'blob_unlinked');
      RETURN NULL;
    END $$;
    CREATE TRIGGER gc_repository_blob_removed AFTER DELETE ON repository_blobs FOR EACH ROW EXECUTE FUNCTION berth_repository_blob_removed();

    -- The notification outbox (src/metadata/event-store.ts). Appenders take an advisory transaction
    -- lock first, so that seq follows commit order; a sequence never reuses a value.
    CREATE TABLE event_outbox (
      seq bigserial PRIMARY KEY,
      repository text NOT NULL,
      payload text NOT NULL,
      created_at bigint NOT NULL
    );
    CREATE TABLE event_endpoints (
      name text PRIMARY KEY,
      delivered_seq bigint NOT NULL,
      lease_owner text,
      lease_until bigint NOT NULL DEFAULT 0,
      used_at bigint NOT NULL
    );
    `,
    down: `
    DROP TABLE event_endpoints, event_outbox, gc_blob_deletions, gc_manifest_review_queue, gc_blob_review_queue,
      uploads, tags, repository_manifests, manifest_references, manifests, repository_blobs, blobs, repositories;
    DROP FUNCTION berth_repository_blob_removed(), berth_manifest_reference_removed(), berth_repository_manifest_removed(),
      berth_tag_left(), berth_enqueue_manifest(text, text), berth_enqueue_blob(text, text), berth_now_ms();
    `,
  },
  // The shared state of an upload session (src/metadata/store.ts UploadState).
  {
    up: `
    ALTER TABLE uploads
      ADD COLUMN hashed_offset bigint NOT NULL DEFAULT 0,
      ADD COLUMN hash_state bytea,
      ADD COLUMN writer text,
      ADD COLUMN writer_until bigint NOT NULL DEFAULT 0,
      ADD COLUMN version bigint NOT NULL DEFAULT 0;
    `,
    down: `
    ALTER TABLE uploads DROP COLUMN hashed_offset, DROP COLUMN hash_state, DROP COLUMN writer, DROP COLUMN writer_until, DROP COLUMN version;
    `,
  },
  // State shared by every instance (src/metadata/shared-state.ts): named values, failed logins.
  {
    up: `
    CREATE TABLE shared_values (
      name text PRIMARY KEY,
      value text NOT NULL,
      created_at bigint NOT NULL
    );
    CREATE TABLE login_failures (
      client text PRIMARY KEY,
      window_start bigint NOT NULL,
      failures bigint NOT NULL
    );
    `,
    down: `
    DROP TABLE login_failures, shared_values;
    `,
  },
  // The web UI (src/metadata/browse.ts, gc-runs.ts): tag listings sorted by push time, newest first,
  // and the garbage collector's run history.
  {
    up: `
    CREATE INDEX tags_by_push ON tags (repository_id, updated_at DESC, name);
    CREATE TABLE gc_runs (
      id bigserial PRIMARY KEY,
      started_at bigint NOT NULL,
      finished_at bigint NOT NULL,
      trigger text NOT NULL CHECK (trigger IN ('server', 'command')),
      manifests bigint NOT NULL,
      blobs bigint NOT NULL,
      bytes_reclaimed bigint NOT NULL,
      orphans bigint NOT NULL,
      orphan_bytes bigint NOT NULL,
      policy_tags bigint NOT NULL,
      policy_manifests bigint NOT NULL
    );
    `,
    down: `
    DROP TABLE gc_runs;
    DROP INDEX tags_by_push;
    `,
  },
  // The web UI's repository search (src/metadata/browse.ts): a trigram index of repository names
  // (pg_trgm, a trusted extension: the database owner may create it), so that a search for a rare
  // substring reads its matches, not the whole name index.
  {
    up: `
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX repositories_name_trigrams ON repositories USING gin (name gin_trgm_ops);
    `,
    down: `
    DROP INDEX repositories_name_trigrams;
    `,
  },
  {
    // The import journal (src/metadata/import-store.ts), as SQLite's import_journal: one row per
    // repository of a source that `berth import` finished, with the fingerprint of what the source held then.
    up: `
    CREATE TABLE import_journal (
      source text COLLATE "C" NOT NULL,
      repository text COLLATE "C" NOT NULL,
      fingerprint text NOT NULL,
      imported_at bigint NOT NULL,
      PRIMARY KEY (source, repository)
    );
    `,
    down: `
    DROP TABLE import_journal;
    `,
  },
  {
    // Leases (src/metadata/shared-state.ts), as SQLite's leases: one process at a time does a named
    // piece of work (a proxy fill of one blob, across instances), until a time its holder renews.
    up: `
    CREATE TABLE work_leases (
      name text COLLATE "C" PRIMARY KEY,
      holder text NOT NULL,
      until bigint NOT NULL
    );
    `,
    down: `
    DROP TABLE work_leases;
    `,
  },
  {
    // When an upstream last confirmed a proxied tag, as SQLite's: one revalidation per TTL for every
    // instance, none again after a restart.
    up: `
    CREATE TABLE upstream_tag_confirmations (
      repository text COLLATE "C" NOT NULL,
      tag text COLLATE "C" NOT NULL,
      digest text NOT NULL,
      confirmed_at bigint NOT NULL,
      PRIMARY KEY (repository, tag)
    );
    `,
    down: `
    DROP TABLE upstream_tag_confirmations;
    `,
  },
  {
    // When a manifest of a repository was last pulled, as SQLite's: the cache's eviction order.
    up: `
    ALTER TABLE repository_manifests ADD COLUMN last_pulled_at bigint;
    `,
    down: `
    ALTER TABLE repository_manifests DROP COLUMN last_pulled_at;
    `,
  },
];
