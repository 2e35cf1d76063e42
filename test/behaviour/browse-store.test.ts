// Behaviour of the BrowseStore (the web UI's queries, src/metadata/browse.ts): repository search by
// name with keyset pages, tag pages by name and by push time, sizes that include blobs and an
// index's children, a manifest's tags, parents and referrers, and the collector's run history. Run
// against every implementation (SQLite, PostgreSQL).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TAG_COUNT_CAP, type BrowseStore, type TagDetail } from '../../src/metadata/browse.js';
import { GC_RUNS_KEPT, type GcRunRow, type GcRunStore } from '../../src/metadata/gc-runs.js';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';
import type { MetadataStore, NewManifest } from '../../src/metadata/store.js';

type Store = MetadataStore & BrowseStore & GcRunStore;

interface StoreFactory {
  readonly name: string;
  create(): Store | Promise<Store>;
  dispose(): void | Promise<void>;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
let counter = 0;
const digest = (label: string): string => `sha256:${createHash('sha256').update(`${label}-${process.pid}`).digest('hex')}`;

function manifest(repository: string, label: string, extra: Partial<NewManifest> = {}): NewManifest {
  const payload = Buffer.from(JSON.stringify({ label, n: ++counter }));
  return { repository, digest: digest(`${label}-${counter}`), mediaType: OCI_MANIFEST, payload, artifactType: null, annotations: null, subject: null, blobs: [], manifests: [], tag: null, ...extra };
}

async function put(store: Store, value: NewManifest): Promise<NewManifest> {
  const result = await store.putManifest(value);
  assert.ok(result.ok, 'putManifest');
  return value;
}

async function pages<T>(fetchPage: (after: T | undefined) => Promise<T[]>, key: (row: T) => T): Promise<T[][]> {
  const all: T[][] = [];
  let after: T | undefined;
  for (;;) {
    const rows = await fetchPage(after);
    if (rows.length === 0) return all;
    all.push(rows);
    after = key(rows[rows.length - 1] as T);
  }
}

export function browseStoreSuite(factory: StoreFactory): void {
  describe(`BrowseStore behaviour: ${factory.name}`, () => {
    let store: Store;
    before(async () => {
      store = await factory.create();
    });
    after(async () => {
      await store.close();
      await factory.dispose();
    });

    it('searchRepositories: names containing the text, in lexical order, paged by `after`, only repositories with a manifest', async () => {
      const names = ['search/alpha-web', 'search/beta-web', 'search/gamma-db', 'search/web', 'other/webapp'];
      for (const name of names) await put(store, manifest(name, name, { tag: 'v1' }));
      await store.linkBlob('search/empty-web', { digest: digest('lonely'), size: 1 });
      const found: string[] = [];
      let last: string | undefined;
      for (;;) {
        const rows = await store.searchRepositories({ contains: 'web', limit: 2, after: last });
        assert.ok(rows.length <= 2);
        found.push(...rows.map((row) => row.name));
        if (rows.length < 2) break;
        last = rows[rows.length - 1]?.name;
      }
      assert.deepEqual(found, ['other/webapp', 'search/alpha-web', 'search/beta-web', 'search/web']);
      const all = await store.searchRepositories({ contains: '', limit: 100 });
      assert.deepEqual(all.map((row) => row.name).filter((name) => names.includes(name) || name === 'search/empty-web'), [...names].sort());
    });

    it('searchRepositories and getRepositorySummary count tags and give the newest push time', async () => {
      const before = Date.now();
      const first = await put(store, manifest('summary/app', 'a', { tag: 'v1' }));
      await put(store, { ...first, tag: 'latest' });
      await put(store, manifest('summary/app', 'untagged'));
      const [row] = await store.searchRepositories({ contains: 'summary/app', limit: 10 });
      assert.equal(row?.name, 'summary/app');
      assert.equal(row?.tags, 2);
      assert.ok((row?.pushedAt ?? 0) >= before);
      assert.deepEqual(await store.getRepositorySummary('summary/app'), row);
      assert.equal(await store.getRepositorySummary('summary/none'), undefined);
      // Counted up to the cap, so that a page costs the same whatever a repository holds.
      const many = await put(store, manifest('summary/many', 'many'));
      for (let i = 0; i < TAG_COUNT_CAP + 3; i++) await put(store, { ...many, tag: `t${i}` });
      assert.equal((await store.getRepositorySummary('summary/many'))?.tags, TAG_COUNT_CAP);
    });

    it('listTagDetails by name: every tag once, in lexical order, with digest, media type and push time; undefined for an unknown repository', async () => {
      const image = await put(store, manifest('tags/byname', 'img'));
      const tags = ['b', 'a', 'c10', 'c2', 'd'];
      for (const tag of tags) await put(store, { ...image, tag });
      const rows = (await pages<TagDetail | string>((after) => store.listTagDetails('tags/byname', { sort: 'name', after: after as string | undefined }, 2) as Promise<TagDetail[]>, (row) => (row as TagDetail).name)).flat() as TagDetail[];
      assert.deepEqual(rows.map((row) => row.name), [...tags].sort());
      for (const row of rows) {
        assert.equal(row.digest, image.digest);
        assert.equal(row.mediaType, OCI_MANIFEST);
        assert.equal(typeof row.pushedAt, 'number');
      }
      assert.equal(await store.listTagDetails('tags/unknown', { sort: 'name' }, 10), undefined);
    });

    it('listTagDetails by push time: newest first, ties by name, pages that neither skip nor repeat a tag', async () => {
      const image = await put(store, manifest('tags/bypush', 'img'));
      const order: string[] = [];
      for (let i = 0; i < 7; i++) {
        const tag = `t${i}`;
        await put(store, { ...image, tag });
        order.push(tag);
        // Distinct times for some, equal times (ties) for others: both must page exactly.
        if (i % 2 === 0) await new Promise((resolve) => setTimeout(resolve, 3));
      }
      const seen: TagDetail[] = [];
      let after: { pushedAt: number; name: string } | undefined;
      for (;;) {
        const rows = await store.listTagDetails('tags/bypush', { sort: 'pushed', after }, 3);
        assert.ok(rows !== undefined);
        if (rows.length === 0) break;
        seen.push(...rows);
        const last = rows[rows.length - 1] as TagDetail;
        after = { pushedAt: last.pushedAt, name: last.name };
      }
      assert.deepEqual(seen.map((row) => row.name).sort(), [...order].sort());
      for (let i = 1; i < seen.length; i++) {
        const previous = seen[i - 1] as TagDetail;
        const current = seen[i] as TagDetail;
        assert.ok(previous.pushedAt > current.pushedAt || (previous.pushedAt === current.pushedAt && previous.name < current.name), `order at ${i}`);
      }
      // Moving a tag makes it the newest.
      const other = await put(store, manifest('tags/bypush', 'other'));
      await put(store, { ...other, tag: 't0' });
      const [newest] = (await store.listTagDetails('tags/bypush', { sort: 'pushed' }, 1)) ?? [];
      assert.equal(newest?.name, 't0');
      assert.equal(newest?.digest, other.digest);
    });

    it('sizes: an image is its payload plus its blobs; an index adds its children with their blobs', async () => {
      const repository = 'sizes/app';
      const config = digest('config');
      const layer = digest('layer');
      await store.linkBlob(repository, { digest: config, size: 100 });
      await store.linkBlob(repository, { digest: layer, size: 5000 });
      const image = await put(store, manifest(repository, 'image', { blobs: [config, layer], tag: 'image' }));
      const index = await put(store, { ...manifest(repository, 'index', { manifests: [image.digest], tag: 'index' }), mediaType: OCI_INDEX });
      const rows = (await store.listTagDetails(repository, { sort: 'name' }, 10)) ?? [];
      const byName = new Map(rows.map((row) => [row.name, row]));
      assert.equal(byName.get('image')?.size, image.payload.length + 5100);
      assert.equal(byName.get('index')?.size, index.payload.length + image.payload.length + 5100);
      assert.equal(byName.get('index')?.mediaType, OCI_INDEX);
    });

    it('getManifestSummary: tags, the indexes listing it, referrers counted by artifactType; undefined elsewhere', async () => {
      const repository = 'summary/signed';
      const image = await put(store, manifest(repository, 'image', { tag: 'v1' }));
      await put(store, { ...image, tag: 'latest' });
      const index = await put(store, { ...manifest(repository, 'index', { manifests: [image.digest], tag: 'multi' }), mediaType: OCI_INDEX });
      await put(store, manifest(repository, 'sig1', { subject: image.digest, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' }));
      await put(store, manifest(repository, 'sig2', { subject: image.digest, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' }));
      await put(store, manifest(repository, 'sbom', { subject: image.digest, artifactType: 'application/spdx+json' }));
      await put(store, manifest(repository, 'plain', { subject: image.digest }));
      await put(store, manifest('summary/elsewhere', 'foreign', { subject: image.digest, artifactType: 'application/spdx+json' }));
      const summary = await store.getManifestSummary(repository, image.digest);
      assert.ok(summary !== undefined);
      assert.equal(summary.digest, image.digest);
      assert.equal(summary.mediaType, OCI_MANIFEST);
      assert.equal(summary.size, image.payload.length);
      assert.deepEqual(summary.tags, ['latest', 'v1']);
      assert.deepEqual(summary.parents, [index.digest]);
      assert.deepEqual(summary.referrers, { '': 1, 'application/spdx+json': 1, 'application/vnd.dev.cosign.artifact.sig.v1+json': 2 });
      assert.equal(summary.subject, null);
      assert.equal(await store.getManifestSummary('summary/elsewhere', image.digest), undefined);
      const indexSummary = await store.getManifestSummary(repository, index.digest);
      assert.deepEqual(indexSummary?.tags, ['multi']);
      assert.deepEqual(indexSummary?.parents, []);
      assert.deepEqual(indexSummary?.referrers, {});
    });

    it('nextRepositoryName: the first name strictly between the bounds, only repositories with a manifest', async () => {
      for (const name of ['tree/a', 'tree/a-b', 'tree/a/c', 'tree/b/d']) await put(store, manifest(name, name, { tag: 'v1' }));
      await store.linkBlob('tree/a-a', { digest: digest('tree-lonely'), size: 1 });
      assert.equal(await store.nextRepositoryName('tree/', 'tree/~'), 'tree/a');
      assert.equal(await store.nextRepositoryName('tree/a', 'tree/~'), 'tree/a-b', 'strictly after; tree/a-a has no manifest');
      assert.equal(await store.nextRepositoryName('tree/a/', 'tree/a/~'), 'tree/a/c');
      assert.equal(await store.nextRepositoryName('tree/a/~', 'tree/~'), 'tree/b/d');
      assert.equal(await store.nextRepositoryName('tree/b/d', 'tree/~'), undefined);
      assert.equal(await store.nextRepositoryName('tree/', 'tree/a'), undefined, 'strictly before');
    });

    it('GcRunStore: runs listed newest first, only the newest GC_RUNS_KEPT kept', async () => {
      assert.deepEqual(await store.listGcRuns(10), []);
      const run = (i: number): GcRunRow => ({ startedAt: 1000 * i, finishedAt: 1000 * i + 5, trigger: i % 2 === 0 ? 'server' : 'command', manifests: i, blobs: 2 * i, bytesReclaimed: 100 * i, orphans: 0, orphanBytes: 0, policyTags: 1, policyManifests: 0 });
      for (let i = 1; i <= GC_RUNS_KEPT + 5; i++) await store.recordGcRun(run(i));
      const newest = await store.listGcRuns(3);
      assert.deepEqual(newest, [run(GC_RUNS_KEPT + 5), run(GC_RUNS_KEPT + 4), run(GC_RUNS_KEPT + 3)]);
      const all = await store.listGcRuns(1000);
      assert.equal(all.length, GC_RUNS_KEPT);
      assert.deepEqual(all[all.length - 1], run(6));
    });
  });
}

let directory = '';
browseStoreSuite({
  name: 'SqliteStore (file)',
  create: () => {
    directory = mkdtempSync(join(tmpdir(), 'berth-browse-'));
    return new SqliteStore({ path: join(directory, 'metadata.sqlite') });
  },
  dispose: () => rmSync(directory, { recursive: true, force: true }),
});

let database: TestDatabase | undefined;
browseStoreSuite({
  name: 'PostgresStore',
  create: async () => {
    database = await createTestDatabase('browse');
    return database.open();
  },
  dispose: async () => {
    await database?.drop();
  },
});
