// Behaviour of the ImportStore (the journal of `berth import`): an entry per source and repository,
// replaced by a later pass, independent between sources, forgotten per source; and of the
// ExportStore (a Berth store as the source of `berth import`): a repository's blob links, manifests
// (untagged too) and tags, manifest bytes by digest; and the import's batches: journal entries of
// many repositories in one read, blob links in one transaction (a blob the collector is deleting left
// out alone), manifests and tags in one transaction (a refused one stores nothing of it). Run against every implementation (SQLite and
// PostgreSQL pass the same suite).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import type { ExportStore } from '../../src/metadata/export-store.js';
import type { ImportStore } from '../../src/metadata/import-store.js';
import type { LifecycleStore } from '../../src/metadata/lifecycle.js';
import type { MetadataStore, NewManifest } from '../../src/metadata/store.js';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';

type Store = ImportStore & ExportStore & MetadataStore & LifecycleStore;

const digest = (label: string): string => `sha256:${createHash('sha256').update(label).digest('hex')}`;

function manifest(repository: string, label: string, blobs: string[], tag: string | null): NewManifest {
  const payload = Buffer.from(JSON.stringify({ schemaVersion: 2, label }));
  return { repository, digest: `sha256:${createHash('sha256').update(payload).digest('hex')}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', payload, artifactType: null, annotations: null, subject: null, blobs, manifests: [], tag };
}

interface StoreFactory {
  readonly name: string;
  create(): Store | Promise<Store>;
  dispose(): void | Promise<void>;
}

export function importStoreSuite(factory: StoreFactory): void {
  describe(`ImportStore behaviour: ${factory.name}`, () => {
    let store: Store;
    before(async () => {
      store = await factory.create();
    });
    after(async () => {
      await store.close();
      await factory.dispose();
    });

    it('records a repository with its fingerprint and the time, and a later pass replaces it', async () => {
      assert.equal(await store.getImportedRepository('filesystem:/old', 'team/app'), undefined);
      const before = Date.now();
      await store.recordImportedRepository('filesystem:/old', 'team/app', 'f1');
      const first = await store.getImportedRepository('filesystem:/old', 'team/app');
      assert.equal(first?.fingerprint, 'f1');
      assert.equal(typeof first?.importedAt, 'number');
      assert.ok((first?.importedAt ?? 0) >= before && (first?.importedAt ?? 0) <= Date.now());
      await store.recordImportedRepository('filesystem:/old', 'team/app', 'f2');
      assert.equal((await store.getImportedRepository('filesystem:/old', 'team/app'))?.fingerprint, 'f2');
    });

    it('keeps sources and repositories apart, and forgets one source only', async () => {
      await store.recordImportedRepository('s3:http://a/b/', 'x', 'fa');
      await store.recordImportedRepository('s3:http://a/b/', 'x/y', 'fb');
      await store.recordImportedRepository('s3:http://a/c/', 'x', 'fc');
      assert.equal((await store.getImportedRepository('s3:http://a/b/', 'x'))?.fingerprint, 'fa');
      assert.equal((await store.getImportedRepository('s3:http://a/b/', 'x/y'))?.fingerprint, 'fb');
      assert.equal((await store.getImportedRepository('s3:http://a/c/', 'x'))?.fingerprint, 'fc');
      assert.equal(await store.getImportedRepository('s3:http://a/b/', 'X'), undefined, 'names compare exactly');
      await store.forgetImportSource('s3:http://a/b/');
      assert.equal(await store.getImportedRepository('s3:http://a/b/', 'x'), undefined);
      assert.equal(await store.getImportedRepository('s3:http://a/b/', 'x/y'), undefined);
      assert.equal((await store.getImportedRepository('s3:http://a/c/', 'x'))?.fingerprint, 'fc');
    });

    it('reads the journal entries of many repositories at once, of one source only', async () => {
      await store.recordImportedRepository('filesystem:/batch', 'a/one', 'f1');
      await store.recordImportedRepository('filesystem:/batch', 'a/two', 'f2');
      await store.recordImportedRepository('filesystem:/other', 'a/three', 'f3');
      const entries = await store.getImportedRepositories('filesystem:/batch', ['a/one', 'a/two', 'a/three', 'a/none']);
      assert.deepEqual([...entries.keys()].sort(), ['a/one', 'a/two']);
      assert.equal(entries.get('a/two')?.fingerprint, 'f2');
      assert.equal(typeof entries.get('a/one')?.importedAt, 'number');
      assert.equal((await store.getImportedRepositories('filesystem:/batch', [])).size, 0);
    });

    it('links blobs in one batch, leaving out alone one whose bytes the collector is deleting', async () => {
      const [a, b, gone] = [digest('batch a'), digest('batch b'), digest('batch gone')];
      await store.linkBlob('batch/old', { digest: gone, size: 7 });
      const deletion = await store.beginBlobDeletions(Date.now() + 1000, 100_000, false);
      assert.ok(deletion.deleting.some((blob) => blob.digest === gone));
      const collected = await store.linkBlobs('batch/app', [
        { digest: a, size: 6, bytesPresentSince: Date.now() },
        { digest: gone, size: 7, bytesPresentSince: Date.now() },
        { digest: b, size: 8, bytesPresentSince: Date.now() },
      ]);
      assert.deepEqual(collected, [gone]);
      assert.deepEqual(await store.getRepositoryBlob('batch/app', a), { digest: a, size: 6 });
      assert.deepEqual(await store.getRepositoryBlob('batch/app', b), { digest: b, size: 8 });
      assert.equal(await store.getRepositoryBlob('batch/app', gone), undefined);
      assert.equal(await store.getBlob(gone), undefined, 'the refused link records nothing');
      assert.deepEqual(await store.linkBlobs('batch/app', [{ digest: a, size: 6, bytesPresentSince: Date.now() }]), [], 'linking again is a no-op');
      assert.deepEqual(await store.linkBlobs('batch/app', []), []);
      await store.finishBlobDeletions([gone]);
    });

    it('puts manifests and tags in one batch, one result each; a refused one stores nothing of it', async () => {
      const [a, b] = [digest('put a'), digest('put b')];
      await store.linkBlobs('put/app', [
        { digest: a, size: 6, bytesPresentSince: Date.now() },
        { digest: b, size: 6, bytesPresentSince: Date.now() },
      ]);
      const one = manifest('put/app', 'one', [a], 'v1');
      const two = manifest('put/app', 'two', [a, b], null);
      const missing = manifest('put/app', 'missing', [digest('not linked')], 'broken');
      const index = { ...manifest('put/app', 'index', [], 'latest'), manifests: [one.digest, two.digest] };
      const results = await store.putManifests([one, { ...one, tag: 'stable' }, two, missing, index]);
      assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }, { ok: false, missing: 'blob', digest: digest('not linked') }, { ok: true }]);
      const contents = await store.readRepositoryContents('put/app');
      assert.deepEqual(contents.manifests, [one.digest, two.digest, index.digest].sort());
      assert.deepEqual([...contents.tags], [['latest', index.digest], ['stable', one.digest], ['v1', one.digest]]);
      const orphan = { ...manifest('put/app', 'orphan index', [], null), manifests: [digest('no child')] };
      assert.deepEqual(await store.putManifests([orphan]), [{ ok: false, missing: 'manifest', digest: digest('no child') }]);
      // An immutable tag that would move is refused alone; the rest of the batch is stored.
      const three = manifest('put/app', 'three', [b], null);
      const moved = await store.putManifests([{ ...two, tag: 'v1', immutableTag: true }, three]);
      assert.deepEqual(moved, [{ ok: false, immutable: true, current: one.digest }, { ok: true }]);
      assert.equal((await store.getManifestByTag('put/app', 'v1'))?.digest, one.digest);
      assert.notEqual(await store.getManifestByDigest('put/app', three.digest), undefined);
    });

    it("exports a repository's blob links, manifests (untagged too) and tags, and manifest bytes by digest", async () => {
      const [a, b, c] = [digest('blob a'), digest('blob b'), digest('blob c')];
      for (const blob of [a, b]) await store.linkBlob('exp/app', { digest: blob, size: 6 });
      await store.linkBlob('exp/other', { digest: c, size: 6 });
      const old = manifest('exp/app', 'old', [a], 'v1');
      const current = manifest('exp/app', 'current', [a, b], 'v1');
      assert.deepEqual(await store.putManifest(old), { ok: true });
      assert.deepEqual(await store.putManifest(current), { ok: true });
      assert.deepEqual(await store.putManifest({ ...current, tag: 'latest' }), { ok: true });
      assert.deepEqual(await store.putManifest(manifest('exp/other', 'other', [c], 'v1')), { ok: true });
      const contents = await store.readRepositoryContents('exp/app');
      assert.deepEqual(contents.blobs, [a, b].sort());
      assert.deepEqual(contents.manifests, [old.digest, current.digest].sort(), 'the untagged manifest too');
      assert.deepEqual([...contents.tags], [['latest', current.digest], ['v1', current.digest]]);
      assert.deepEqual(await store.getManifestPayload(old.digest), old.payload);
      assert.equal(await store.getManifestPayload(digest('no manifest')), undefined);
      const none = await store.readRepositoryContents('exp/none');
      assert.deepEqual([none.blobs, none.manifests, [...none.tags]], [[], [], []]);
    });
  });
}

let directory = '';
importStoreSuite({
  name: 'SqliteStore (file)',
  create: () => {
    directory = mkdtempSync(join(tmpdir(), 'berth-import-journal-'));
    return new SqliteStore({ path: join(directory, 'metadata.sqlite') });
  },
  dispose: () => rmSync(directory, { recursive: true, force: true }),
});

let database: TestDatabase | undefined;
importStoreSuite({
  name: 'PostgresStore',
  create: async () => {
    database = await createTestDatabase('import_journal');
    return database.open();
  },
  dispose: async () => {
    await database?.drop();
  },
});
