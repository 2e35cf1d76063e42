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
];
