// Behaviour of the ImportStore (the journal of `berth import`): an entry per source and repository,
// replaced by a later pass, independent between sources, forgotten per source; and of the
// ExportStore (a Berth store as the source of `berth import`): a repository's blob links, manifests
// (untagged too) and tags, manifest bytes by digest. Run against every implementation (SQLite and
// PostgreSQL pass the same suite).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import type { ExportStore } from '../../src/metadata/export-store.js';
import type { ImportStore } from '../../src/metadata/import-store.js';
import type { MetadataStore, NewManifest } from '../../src/metadata/store.js';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';

type Store = ImportStore & ExportStore & MetadataStore;

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
