// Growth case: a metadata store seeded directly (no HTTP) with many repositories and tags, and the
// same figures on a small store for comparison.
import crypto from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';

export const pad = (n, w) => String(n).padStart(w, '0');
export const repoName = (i) => `growth/r${pad(i, 6)}`;
export const BIG_REPO = 'growth/big';
export const tagName = (i) => `t${pad(i, 7)}`;

export function seedManifest() {
  const cfg = `sha256:${crypto.createHash('sha256').update('growth-config').digest('hex')}`;
  const layer = `sha256:${crypto.createHash('sha256').update('growth-layer').digest('hex')}`;
  const payload = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg, size: 13 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 12 }],
    }),
  );
  return { payload, digest: `sha256:${crypto.createHash('sha256').update(payload).digest('hex')}`, blobs: [[cfg, 13], [layer, 12]] };
}

/**
 * Fills an existing (migrated) Berth metadata file: `repos` repositories (one of them BIG_REPO with
 * `bigTags` tags, the others `tagsPerRepo` each), all tags on one shared manifest row. One
 * transaction, prepared statements. Returns counts and the time taken.
 */
export function seed(dbFile, { repos, bigTags, tagsPerRepo }) {
  const t0 = process.hrtime.bigint();
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('foreign_keys = OFF');
  const now = Date.now();
  const m = seedManifest();
  let tagCount = 0;
  db.transaction(() => {
    const insBlob = db.prepare('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    for (const [d, s] of m.blobs) insBlob.run(d, s, now);
    const manifestId = Number(
      db
        .prepare(
          `INSERT INTO manifests (digest, media_type, size, payload, artifact_type, annotations, subject, created_at)
           VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?)`,
        )
        .run(m.digest, 'application/vnd.oci.image.manifest.v1+json', m.payload.length, m.payload, now).lastInsertRowid,
    );
    const insRef = db.prepare('INSERT INTO manifest_references (manifest_id, child, kind) VALUES (?, ?, ?)');
    for (const [d] of m.blobs) insRef.run(manifestId, d, 'blob');
    const insRepo = db.prepare('INSERT INTO repositories (name, created_at) VALUES (?, ?)');
    const insRepoBlob = db.prepare('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)');
    const insRepoManifest = db.prepare('INSERT INTO repository_manifests (repository_id, manifest_id, created_at) VALUES (?, ?, ?)');
    const insTag = db.prepare('INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)');
    const addRepo = (name, tags) => {
      const id = Number(insRepo.run(name, now).lastInsertRowid);
      for (const [d] of m.blobs) insRepoBlob.run(id, d, now);
      insRepoManifest.run(id, manifestId, now);
      for (let t = 0; t < tags; t++) insTag.run(id, tagName(t), manifestId, now);
      tagCount += tags;
    };
    addRepo(BIG_REPO, bigTags);
    for (let i = 0; i < repos - 1; i++) addRepo(repoName(i), tagsPerRepo);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { repositories: repos, tags: tagCount, seed_s: Number(process.hrtime.bigint() - t0) / 1e9, manifest: m };
}

export const metadataFile = (dataDir) => path.join(dataDir, 'metadata.sqlite');
