// Behaviour of the LifecycleStore (the collector's side of the metadata store): review queues fed
// where references disappear, eligibility re-checked in the collecting transaction, byte deletions
// that linkBlob respects. Run against every implementation.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LifecycleStore, PolicyStore, UsageStore } from '../../src/metadata/lifecycle.js';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';
import { BlobCollectedError, type MetadataStore, type NewManifest } from '../../src/metadata/store.js';

type Store = MetadataStore & LifecycleStore & UsageStore & PolicyStore;

interface StoreFactory {
  readonly name: string;
  create(): Store | Promise<Store>;
  dispose(): void | Promise<void>;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
let counter = 0;
const unique = (label: string): string => `${label}-${++counter}-${process.pid}`;
const digest = (label: string): string => `sha256:${createHash('sha256').update(label).digest('hex')}`;
const repo = (label: string): string => `gc/${unique(label)}`;
/** A cutoff that makes everything enqueued so far due. */
const everything = (): number => Date.now() + 1000;
/** A cutoff that makes nothing enqueued in the last minute due. */
const nothingRecent = (): number => Date.now() - 60_000;

function manifest(repository: string, extra: Partial<NewManifest> = {}): NewManifest {
  const label = unique('manifest');
  return {
    repository,
    digest: digest(label),
    mediaType: OCI_MANIFEST,
    payload: Buffer.from(JSON.stringify({ label })),
    artifactType: null,
    annotations: null,
    subject: null,
    blobs: [],
    manifests: [],
    tag: null,
    ...extra,
  };
}

async function blobIn(store: Store, repository: string, size = 10): Promise<string> {
  const d = digest(unique('blob'));
  await store.linkBlob(repository, { digest: d, size });
  return d;
}

/** Collects everything due now: manifests first, then blobs; returns what went. */
async function collectAll(store: Store): Promise<{ manifests: string[]; blobs: string[] }> {
  const manifests: string[] = [];
  const blobs: string[] = [];
  for (;;) {
    const batch = await store.collectManifests(everything(), 1000, false);
    manifests.push(...batch.collected.map((m) => m.digest));
    if (batch.examined === 0) break;
  }
  for (;;) {
    const batch = await store.beginBlobDeletions(everything(), 1000, false);
    blobs.push(...batch.deleting.map((b) => b.digest));
    await store.finishBlobDeletions(batch.deleting.map((b) => b.digest));
    if (batch.examined === 0) break;
  }
  return { manifests, blobs };
}

export function lifecycleStoreSuite(factory: StoreFactory): void {
  describe(`LifecycleStore behaviour: ${factory.name}`, () => {
    let store: Store;
    before(async () => {
      store = await factory.create();
    });
    after(async () => {
      await store.close();
      await factory.dispose();
    });

    it('a linked blob that nothing references is collected only once its review delay has passed', async () => {
      const repository = repo('unreferenced');
      const blob = await blobIn(store, repository);
      const early = await store.beginBlobDeletions(nothingRecent(), 1000, false);
      assert.ok(!early.deleting.some((b) => b.digest === blob));
      assert.notEqual(await store.getBlob(blob), undefined);
      const { blobs } = await collectAll(store);
      assert.ok(blobs.includes(blob));
      assert.equal(await store.getBlob(blob), undefined);
      assert.equal(await store.getRepositoryBlob(repository, blob), undefined);
    });

    it('a blob referenced by a manifest is never collected, however long it has been queued', async () => {
      const repository = repo('referenced');
      const blob = await blobIn(store, repository);
      assert.deepEqual(await store.putManifest(manifest(repository, { blobs: [blob], tag: 'v1' })), { ok: true });
      const { blobs } = await collectAll(store);
      assert.ok(!blobs.includes(blob));
      assert.notEqual(await store.getRepositoryBlob(repository, blob), undefined);
    });

    it('an untagged manifest stays in its repository (kept by default) and keeps its blobs', async () => {
      const repository = repo('untagged');
      const blob = await blobIn(store, repository);
      const m = manifest(repository, { blobs: [blob], tag: 'v1' });
      await store.putManifest(m);
      assert.equal(await store.deleteTag(repository, 'v1'), true);
      const { manifests, blobs } = await collectAll(store);
      assert.ok(!manifests.includes(m.digest));
      assert.ok(!blobs.includes(blob));
      assert.notEqual(await store.getManifestByDigest(repository, m.digest), undefined);
    });

    it('a manifest deleted from its only repository goes, then its blobs, each after the delay', async () => {
      const repository = repo('deleted');
      const layer = await blobIn(store, repository, 100);
      const m = manifest(repository, { blobs: [layer], tag: 'v1' });
      await store.putManifest(m);
      assert.equal(await store.deleteManifest(repository, m.digest), true);
      const notYet = await store.collectManifests(nothingRecent(), 1000, false);
      assert.ok(!notYet.collected.some((c) => c.digest === m.digest));
      const first = await store.collectManifests(everything(), 1000, false);
      assert.ok(first.collected.some((c) => c.digest === m.digest));
      // The manifest's references went with it: the layer is a candidate again, newly enqueued.
      const recent = await store.beginBlobDeletions(nothingRecent(), 1000, false);
      assert.ok(!recent.deleting.some((b) => b.digest === layer));
      const { blobs } = await collectAll(store);
      assert.ok(blobs.includes(layer));
      assert.equal(await store.getBlob(layer), undefined);
    });

    it('a manifest deleted from one repository survives while another repository holds it, and so do its blobs', async () => {
      const a = repo('shared-a');
      const b = repo('shared-b');
      const layer = digest(unique('shared-layer'));
      await store.linkBlob(a, { digest: layer, size: 5 });
      await store.linkBlob(b, { digest: layer, size: 5 });
      const m = manifest(a, { blobs: [layer], tag: 'v1' });
      await store.putManifest(m);
      await store.putManifest({ ...m, repository: b });
      await store.deleteManifest(a, m.digest);
      const { manifests, blobs } = await collectAll(store);
      assert.ok(!manifests.includes(m.digest));
      assert.ok(!blobs.includes(layer));
      assert.notEqual(await store.getManifestByTag(b, 'v1'), undefined);
    });

    it('a blob unlinked from one repository survives while a manifest elsewhere references it', async () => {
      const a = repo('cross-a');
      const b = repo('cross-b');
      const layer = digest(unique('cross-layer'));
      await store.linkBlob(a, { digest: layer, size: 5 });
      await store.linkBlob(b, { digest: layer, size: 5 });
      await store.putManifest(manifest(b, { blobs: [layer], tag: 'v1' }));
      assert.equal(await store.unlinkBlob(a, layer), true);
      const { blobs } = await collectAll(store);
      assert.ok(!blobs.includes(layer));
      assert.notEqual(await store.getRepositoryBlob(b, layer), undefined);
    });

    it('an index keeps its children, even one deleted from the repository by digest; they go after the index', async () => {
      const repository = repo('index');
      const layer = await blobIn(store, repository);
      const child = manifest(repository, { blobs: [layer] });
      await store.putManifest(child);
      const index = manifest(repository, { mediaType: OCI_INDEX, manifests: [child.digest], tag: 'multi' });
      await store.putManifest(index);
      await store.deleteManifest(repository, child.digest);
      let round = await collectAll(store);
      assert.ok(!round.manifests.includes(child.digest), 'a child of a kept index stays');
      assert.ok(!round.blobs.includes(layer));
      await store.deleteManifest(repository, index.digest);
      // With every candidate due, one pass takes the index, then the child it held, then the layer.
      round = await collectAll(store);
      assert.ok(round.manifests.includes(index.digest));
      assert.ok(round.manifests.includes(child.digest), 'then the child, which nothing holds any more');
      assert.ok(round.blobs.includes(layer), 'then its layer');
    });

    it('a referrer is kept in its repository with its subject (no tag needed)', async () => {
      const repository = repo('referrer');
      const subject = manifest(repository, { tag: 'v1' });
      await store.putManifest(subject);
      const referrer = manifest(repository, { subject: subject.digest, artifactType: 'application/vnd.example.sbom' });
      await store.putManifest(referrer);
      const { manifests } = await collectAll(store);
      assert.ok(!manifests.includes(referrer.digest));
      assert.equal((await store.listReferrers(repository, subject.digest)).length, 1);
    });

    it('a manifest pushed again before its collection is re-checked and kept', async () => {
      const repository = repo('repushed');
      const m = manifest(repository, { tag: 'v1' });
      await store.putManifest(m);
      await store.deleteManifest(repository, m.digest);
      await store.putManifest(m);
      const { manifests } = await collectAll(store);
      assert.ok(!manifests.includes(m.digest));
      assert.notEqual(await store.getManifestByTag(repository, 'v1'), undefined);
    });

    it('a dry run reports what would go and removes nothing', async () => {
      const repository = repo('dry');
      const blob = await blobIn(store, repository);
      const dry = await store.beginBlobDeletions(everything(), 100_000, true);
      assert.ok(dry.deleting.some((b) => b.digest === blob));
      assert.notEqual(await store.getBlob(blob), undefined);
      assert.equal((await store.unfinishedBlobDeletions(100_000)).some((d) => d.digest === blob), false);
    });

    it('linkBlob refuses a blob whose bytes are being deleted, and one whose deletion ended after the bytes were seen', async () => {
      const repository = repo('link-race');
      const blob = await blobIn(store, repository);
      const seenBefore = Date.now() - 5;
      const batch = await store.beginBlobDeletions(everything(), 100_000, false);
      assert.ok(batch.deleting.some((b) => b.digest === blob));
      await assert.rejects(store.linkBlob(repository, { digest: blob, size: 10 }, undefined, Date.now()), BlobCollectedError);
      await store.finishBlobDeletions([blob]);
      await assert.rejects(store.linkBlob(repository, { digest: blob, size: 10 }, undefined, seenBefore), BlobCollectedError);
      assert.equal(await store.getBlob(blob), undefined, 'a refused link records nothing');
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.linkBlob(repository, { digest: blob, size: 10 }, undefined, Date.now());
      assert.notEqual(await store.getRepositoryBlob(repository, blob), undefined);
    });

    it('a refused link keeps the upload session; an accepted one ends it', async () => {
      const repository = repo('link-session');
      const blob = await blobIn(store, repository);
      await store.beginBlobDeletions(everything(), 100_000, false);
      const id = unique('upload');
      await store.createUpload({ id, repository, startedAt: Date.now() });
      await assert.rejects(store.linkBlob(repository, { digest: blob, size: 10 }, id, Date.now()), BlobCollectedError);
      assert.equal(await store.hasUpload(id), true);
      await store.finishBlobDeletions([blob]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.linkBlob(repository, { digest: blob, size: 10 }, id, Date.now());
      assert.equal(await store.hasUpload(id), false);
    });

    it('an interrupted deletion is renewed only while no row came back', async () => {
      const repository = repo('renew');
      const gone = await blobIn(store, repository);
      const back = await blobIn(store, repository);
      await store.beginBlobDeletions(everything(), 100_000, false);
      const unfinished = (await store.unfinishedBlobDeletions(100_000)).map((d) => d.digest);
      assert.ok(unfinished.includes(gone) && unfinished.includes(back));
      assert.equal(await store.renewBlobDeletion(gone), true);
      // `back` is pushed again once its lease has run out (simulated by an old presence time).
      await assert.rejects(store.linkBlob(repository, { digest: back, size: 10 }, undefined, Date.now()), BlobCollectedError);
      await store.finishBlobDeletions([back]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.linkBlob(repository, { digest: back, size: 10 }, undefined, Date.now());
      assert.equal(await store.renewBlobDeletion(back), false);
      await store.finishBlobDeletions([gone]);
      assert.equal((await store.unfinishedBlobDeletions(100_000)).some((d) => d.digest === gone || d.digest === back), false);
    });

    it('an orphan deletion starts only for a digest with no row and no deletion running', async () => {
      const repository = repo('orphan');
      const kept = await blobIn(store, repository);
      assert.equal(await store.beginOrphanDeletion(kept, 10), false);
      const orphan = digest(unique('orphan'));
      assert.equal(await store.beginOrphanDeletion(orphan, 10), true);
      assert.equal(await store.beginOrphanDeletion(orphan, 10), false);
      await store.finishBlobDeletions([orphan]);
      assert.equal(await store.beginOrphanDeletion(orphan, 10), true);
      await store.finishBlobDeletions([orphan]);
    });

    it('putManifest with an immutable tag that names another manifest stores nothing and reports the current one', async () => {
      const repository = repo('immutable');
      const first = manifest(repository, { tag: 'v1', immutableTag: true });
      assert.deepEqual(await store.putManifest(first), { ok: true });
      assert.deepEqual(await store.putManifest({ ...first }), { ok: true }, 'the same manifest again is no move');
      const second = manifest(repository, { tag: 'v1', immutableTag: true });
      assert.deepEqual(await store.putManifest(second), { ok: false, immutable: true, current: first.digest });
      assert.equal(await store.getManifestByDigest(repository, second.digest), undefined, 'rolled back');
      assert.deepEqual(await store.listTagsOfManifest(repository, first.digest), ['v1']);
    });

    it('usage counts the distinct blobs referenced in scope once, and a shared blob once per scope', async () => {
      const namespace = unique('usage-ns');
      const a = `${namespace}/a`;
      const b = `${namespace}/b`;
      const shared = digest(unique('shared'));
      await store.linkBlob(a, { digest: shared, size: 1000 });
      await store.linkBlob(b, { digest: shared, size: 1000 });
      const ma = manifest(a, { blobs: [shared], tag: 'v1' });
      const mb = manifest(b, { blobs: [shared], tag: 'v1' });
      await store.putManifest(ma);
      await store.putManifest(mb);
      const usageA = await store.usage({ repository: a });
      assert.equal(usageA.blobBytes, 1000);
      assert.equal(usageA.manifestBytes, ma.payload.length);
      const usageNs = await store.usage({ namespace });
      assert.equal(usageNs.blobBytes, 1000);
      assert.equal(usageNs.manifests, 2);
      // A namespace is the repository of its name and everything under `name/`, not its siblings.
      for (const sibling of [`${namespace}-x/c`, `${namespace}0/d`, `${namespace}.e`]) await store.putManifest(manifest(sibling, { tag: 'v1' }));
      assert.equal((await store.usage({ namespace })).manifests, 2, 'siblings sorting around name/ are not in it');
      await store.putManifest(manifest(namespace, { tag: 'v1' }));
      await store.putManifest(manifest(`${namespace}/deep/f`, { tag: 'v1' }));
      assert.equal((await store.usage({ namespace })).manifests, 4, 'the repository of its name and deeper ones are');
      assert.equal(await store.usageIncrease({ repository: a }, ma.digest, ma.payload.length, [shared]), 0);
      assert.equal(await store.usageIncrease({ repository: repo('empty') }, ma.digest, ma.payload.length, [shared]), ma.payload.length + 1000);
    });

    it('removeUntagged keeps children of kept indexes and referrers of kept subjects; a dry run changes nothing', async () => {
      const repository = repo('untagged-policy');
      const loose = manifest(repository);
      const child = manifest(repository);
      const subject = manifest(repository, { tag: 'v1' });
      for (const m of [loose, child, subject]) await store.putManifest(m);
      await store.putManifest(manifest(repository, { mediaType: OCI_INDEX, manifests: [child.digest], tag: 'multi' }));
      const referrer = manifest(repository, { subject: subject.digest });
      await store.putManifest(referrer);
      const dry = await store.removeUntagged(repository, { untaggedBefore: everything() }, true);
      assert.deepEqual(dry.manifests, [loose.digest]);
      assert.notEqual(await store.getManifestByDigest(repository, loose.digest), undefined);
      const real = await store.removeUntagged(repository, { untaggedBefore: everything() }, false);
      assert.deepEqual(real.manifests, [loose.digest]);
      assert.equal(await store.getManifestByDigest(repository, loose.digest), undefined);
      // Retention deletes the tags of the index and the subject: their children and referrers follow.
      const retained = await store.removeUntagged(repository, { deleteTags: ['multi', 'v1'] }, false);
      assert.deepEqual(retained.tags.sort(), ['multi', 'v1']);
      assert.ok(retained.manifests.includes(child.digest) && retained.manifests.includes(referrer.digest));
      assert.deepEqual(await store.listTags(repository, { limit: 10 }), []);
    });

    it('queue statistics count candidates and deletions in progress', async () => {
      const stats = await store.gcQueueStats();
      assert.equal(typeof stats.blobs, 'number');
      assert.equal(typeof stats.manifests, 'number');
      assert.equal(typeof stats.blobDeletionsInProgress, 'number');
    });
  });
}

let directory = '';
lifecycleStoreSuite({
  name: 'SqliteStore (file)',
  create: () => {
    directory = mkdtempSync(join(tmpdir(), 'berth-lifecycle-'));
    return new SqliteStore({ path: join(directory, 'metadata.sqlite') });
  },
  dispose: () => rmSync(directory, { recursive: true, force: true }),
});

let database: TestDatabase | undefined;
lifecycleStoreSuite({
  name: 'PostgresStore',
  create: async () => {
    database = await createTestDatabase('lifecycle');
    return database.open();
  },
  dispose: async () => {
    await database?.drop();
  },
});
