// One behaviour suite for the MetadataStore interface, run against every implementation.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';
import type { MetadataStore, NewManifest } from '../../src/metadata/store.js';

interface StoreFactory {
  readonly name: string;
  create(): MetadataStore | Promise<MetadataStore>;
  dispose(): void | Promise<void>;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

const digest = (label: string): string => `sha256:${createHash('sha256').update(label).digest('hex')}`;

let counter = 0;
const freshName = (label: string): string => `suite/${label}-${++counter}`;

function manifest(repository: string, label: string, extra: Partial<NewManifest> = {}): NewManifest {
  const payload = Buffer.from(JSON.stringify({ label }));
  return {
    repository,
    digest: digest(`manifest ${label}`),
    mediaType: OCI_MANIFEST,
    payload,
    artifactType: null,
    annotations: null,
    subject: null,
    blobs: [],
    manifests: [],
    tag: null,
    ...extra,
  };
}

export function metadataStoreSuite(factory: StoreFactory): void {
  describe(`MetadataStore behaviour: ${factory.name}`, () => {
    let store: MetadataStore;
    before(async () => {
      store = await factory.create();
    });
    after(async () => {
      await store.close();
      await factory.dispose();
    });

    describe('blobs', () => {
      it('an unknown repository does not exist and sees no blobs', async () => {
        const repository = freshName('none');
        assert.equal(await store.hasRepository(repository), false);
        assert.equal(await store.getRepositoryBlob(repository, digest('x')), undefined);
      });

      it('linkBlob creates the repository and makes the blob visible there only', async () => {
        const repository = freshName('link');
        const other = freshName('other');
        const blob = { digest: digest('link blob'), size: 42 };
        await store.linkBlob(repository, blob);
        assert.equal(await store.hasRepository(repository), true);
        assert.deepEqual(await store.getRepositoryBlob(repository, blob.digest), blob);
        assert.deepEqual(await store.getBlob(blob.digest), blob);
        assert.equal(await store.getRepositoryBlob(other, blob.digest), undefined);
      });

      it('linkBlob twice is harmless; linking into a second repository shares the blob', async () => {
        const first = freshName('first');
        const second = freshName('second');
        const blob = { digest: digest('shared blob'), size: 7 };
        await store.linkBlob(first, blob);
        await store.linkBlob(first, blob);
        await store.linkBlob(second, blob);
        assert.deepEqual(await store.getRepositoryBlob(second, blob.digest), blob);
      });

      it('unlinkBlob hides the blob from that repository only; true once, then false', async () => {
        const first = freshName('first');
        const second = freshName('second');
        const blob = { digest: digest('unlinked blob'), size: 3 };
        await store.linkBlob(first, blob);
        await store.linkBlob(second, blob);
        assert.equal(await store.unlinkBlob(first, blob.digest), true);
        assert.equal(await store.unlinkBlob(first, blob.digest), false);
        assert.equal(await store.getRepositoryBlob(first, blob.digest), undefined);
        assert.deepEqual(await store.getRepositoryBlob(second, blob.digest), blob);
        assert.equal(await store.unlinkBlob(freshName('never'), blob.digest), false);
      });
    });

    describe('manifests and tags', () => {
      it('putManifest with every blob present → ok; get by digest and by tag returns the exact payload', async () => {
        const repository = freshName('put');
        const config = { digest: digest('config'), size: 10 };
        const layer = { digest: digest('layer'), size: 20 };
        await store.linkBlob(repository, config);
        await store.linkBlob(repository, layer);
        const m = manifest(repository, 'put', { blobs: [config.digest, layer.digest], tag: 'v1' });
        assert.deepEqual(await store.putManifest(m), { ok: true });
        const byDigest = await store.getManifestByDigest(repository, m.digest);
        assert.equal(byDigest?.digest, m.digest);
        assert.equal(byDigest?.mediaType, OCI_MANIFEST);
        assert.ok(byDigest?.payload.equals(m.payload));
        assert.equal((await store.getManifestByTag(repository, 'v1'))?.digest, m.digest);
        assert.equal(await store.getManifestByDigest(freshName('other'), m.digest), undefined);
      });

      it('putManifest with a missing blob → {ok:false, missing:"blob", digest}; nothing is stored', async () => {
        const repository = freshName('missing-blob');
        const present = { digest: digest('present'), size: 1 };
        await store.linkBlob(repository, present);
        const absent = digest('absent blob');
        const m = manifest(repository, 'missing blob', { blobs: [present.digest, absent], tag: 'x' });
        assert.deepEqual(await store.putManifest(m), { ok: false, missing: 'blob', digest: absent });
        assert.equal(await store.getManifestByDigest(repository, m.digest), undefined);
        assert.equal(await store.getManifestByTag(repository, 'x'), undefined);
      });

      it('putManifest fromUpstream (a pull-through copy) stores it and its tag with blobs and children absent; the blob joins later', async () => {
        const repository = freshName('from-upstream');
        const layer = digest('upstream layer');
        const child = digest('upstream child');
        const m = manifest(repository, 'from upstream', { blobs: [layer], manifests: [child], tag: 'latest', fromUpstream: true });
        assert.deepEqual(await store.putManifest(m), { ok: true });
        assert.equal((await store.getManifestByTag(repository, 'latest'))?.digest, m.digest);
        assert.equal(await store.getRepositoryBlob(repository, layer), undefined);
        await store.linkBlob(repository, { digest: layer, size: 3 });
        assert.equal((await store.getRepositoryBlob(repository, layer))?.size, 3);
      });

      it('putManifest of a blob linked only in another repository → missing blob', async () => {
        const repository = freshName('elsewhere');
        const blob = { digest: digest('elsewhere blob'), size: 1 };
        await store.linkBlob(freshName('holder'), blob);
        assert.deepEqual(await store.putManifest(manifest(repository, 'elsewhere', { blobs: [blob.digest] })), { ok: false, missing: 'blob', digest: blob.digest });
      });

      it('putManifest of an index with a missing child → {ok:false, missing:"manifest"}; with children present → ok', async () => {
        const repository = freshName('index');
        const child = manifest(repository, 'child');
        assert.deepEqual(await store.putManifest(child), { ok: true });
        const absent = digest('absent child');
        const broken = manifest(repository, 'broken index', { mediaType: OCI_INDEX, manifests: [child.digest, absent] });
        assert.deepEqual(await store.putManifest(broken), { ok: false, missing: 'manifest', digest: absent });
        const index = manifest(repository, 'index', { mediaType: OCI_INDEX, manifests: [child.digest], tag: 'multi' });
        assert.deepEqual(await store.putManifest(index), { ok: true });
        assert.equal((await store.getManifestByTag(repository, 'multi'))?.mediaType, OCI_INDEX);
      });

      it('the same manifest in two repositories is visible in each', async () => {
        const first = freshName('first');
        const second = freshName('second');
        const m = manifest(first, 'two repositories');
        await store.putManifest(m);
        await store.putManifest({ ...m, repository: second });
        assert.equal((await store.getManifestByDigest(second, m.digest))?.digest, m.digest);
      });

      it('a tag moves to the manifest put last under it', async () => {
        const repository = freshName('move');
        const one = manifest(repository, 'one', { tag: 'latest' });
        const two = manifest(repository, 'two', { tag: 'latest' });
        await store.putManifest(one);
        await store.putManifest(two);
        assert.equal((await store.getManifestByTag(repository, 'latest'))?.digest, two.digest);
        assert.equal((await store.getManifestByDigest(repository, one.digest))?.digest, one.digest);
        assert.deepEqual(await store.listTags(repository, { limit: 10 }), ['latest']);
      });

      it('deleteTag removes only the tag; true once, then false', async () => {
        const repository = freshName('untag');
        const m = manifest(repository, 'untag', { tag: 'a' });
        await store.putManifest(m);
        await store.putManifest({ ...m, tag: 'b' });
        assert.equal(await store.deleteTag(repository, 'a'), true);
        assert.equal(await store.deleteTag(repository, 'a'), false);
        assert.equal(await store.getManifestByTag(repository, 'a'), undefined);
        assert.equal((await store.getManifestByTag(repository, 'b'))?.digest, m.digest);
        assert.equal((await store.getManifestByDigest(repository, m.digest))?.digest, m.digest);
      });

      it('deleteManifest drops the manifest and every tag on it, in that repository only', async () => {
        const repository = freshName('delete');
        const other = freshName('keeps');
        const m = manifest(repository, 'deleted', { tag: 'a' });
        const kept = manifest(repository, 'kept', { tag: 'c' });
        await store.putManifest(m);
        await store.putManifest({ ...m, tag: 'b' });
        await store.putManifest(kept);
        await store.putManifest({ ...m, repository: other, tag: 'x' });
        assert.equal(await store.deleteManifest(repository, m.digest), true);
        assert.equal(await store.deleteManifest(repository, m.digest), false);
        assert.equal(await store.getManifestByDigest(repository, m.digest), undefined);
        assert.equal(await store.getManifestByTag(repository, 'a'), undefined);
        assert.deepEqual(await store.listTags(repository, { limit: 10 }), ['c']);
        assert.equal((await store.getManifestByTag(other, 'x'))?.digest, m.digest);
        assert.equal(await store.deleteManifest(freshName('never'), m.digest), false);
        assert.equal(await store.deleteManifest(repository, digest('never pushed')), false);
      });

      it('a deleted manifest can be put again', async () => {
        const repository = freshName('again');
        const m = manifest(repository, 'again', { tag: 't' });
        await store.putManifest(m);
        await store.deleteManifest(repository, m.digest);
        assert.deepEqual(await store.putManifest(m), { ok: true });
        assert.equal((await store.getManifestByTag(repository, 't'))?.digest, m.digest);
      });
    });

    describe('listings', () => {
      it('listTags: undefined for an unknown repository, [] for one without tags', async () => {
        assert.equal(await store.listTags(freshName('unknown'), { limit: 10 }), undefined);
        const repository = freshName('no-tags');
        await store.linkBlob(repository, { digest: digest('only a blob'), size: 1 });
        assert.deepEqual(await store.listTags(repository, { limit: 10 }), []);
      });

      it('listTags pages in lexical (byte) order with limit and after', async () => {
        const repository = freshName('tags');
        const m = manifest(repository, 'tagged');
        const tags = ['v1', 'V2', '10', '9', 'latest', 'a_b', 'a-b', 'a.b'];
        for (const tag of tags) await store.putManifest({ ...m, tag });
        const sorted = [...tags].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1));
        assert.deepEqual(await store.listTags(repository, { limit: 100 }), sorted);
        assert.deepEqual(await store.listTags(repository, { limit: 3 }), sorted.slice(0, 3));
        assert.deepEqual(await store.listTags(repository, { limit: 3, after: sorted[2] }), sorted.slice(3, 6));
        assert.deepEqual(await store.listTags(repository, { limit: 3, after: sorted[7] }), []);
        assert.deepEqual(await store.listTags(repository, { limit: 0 }), []);
        assert.deepEqual(await store.listTags(repository, { limit: 100, after: 'b' }), sorted.filter((tag) => tag > 'b'));
      });

      it('listTags read again after each kind of tag change shows the change', async () => {
        const repository = freshName('reread');
        const one = manifest(repository, 'reread one');
        const two = manifest(repository, 'reread two');
        const page = async (): Promise<string[] | undefined> => store.listTags(repository, { limit: 10 });
        await store.putManifest({ ...one, tag: 'a' });
        assert.deepEqual(await page(), ['a']);
        await store.putManifest({ ...two, tag: 'b' });
        assert.deepEqual(await page(), ['a', 'b']);
        await store.putManifest({ ...two, tag: 'a' });
        assert.deepEqual(await page(), ['a', 'b']);
        assert.equal((await store.getManifestByTag(repository, 'a'))?.digest, two.digest);
        await store.deleteTag(repository, 'b');
        assert.deepEqual(await page(), ['a']);
        await store.putManifest({ ...one, tag: 'c' });
        assert.deepEqual(await page(), ['a', 'c']);
        await store.deleteManifest(repository, two.digest);
        assert.deepEqual(await page(), ['c']);
        // The returned array is the caller's: changing it changes no later answer.
        (await page())?.push('injected');
        assert.deepEqual(await page(), ['c']);
      });

      it('listRepositories pages repositories with manifests in lexical order', async () => {
        const prefix = `catalog${++counter}`;
        const names = [`${prefix}/zeta`, `${prefix}/alpha`, `${prefix}/alpha-tools`, `${prefix}/alpha/nested`, `${prefix}/mid`];
        for (const name of names) await store.putManifest(manifest(name, `catalog ${name}`));
        await store.linkBlob(`${prefix}/blobs-only`, { digest: digest('catalog blob'), size: 1 });
        const all: string[] = [];
        let after: string | undefined = prefix;
        for (;;) {
          const page: string[] = await store.listRepositories({ limit: 2, after });
          const ours = page.filter((name) => name.startsWith(`${prefix}/`));
          all.push(...ours);
          if (page.length < 2 || ours.length < page.length) break;
          after = page[page.length - 1];
        }
        assert.deepEqual(all, [...names].sort());
      });

      it('listReferrers: manifests whose subject is the digest, in digest order, with artifactType and annotations; filtered by artifactType', async () => {
        const repository = freshName('referrers');
        const subject = digest('the subject');
        const referrers = ['r1', 'r2', 'r3'].map((label, i) =>
          manifest(repository, label, {
            subject,
            artifactType: i === 2 ? 'application/vnd.example.b' : 'application/vnd.example.a',
            annotations: i === 0 ? JSON.stringify({ k: 'v' }) : null,
          }),
        );
        for (const referrer of referrers) assert.deepEqual(await store.putManifest(referrer), { ok: true });
        await store.putManifest(manifest(repository, 'unrelated', { subject: digest('another subject') }));
        await store.putManifest({ ...manifest(freshName('other'), 'other repo'), subject });
        const rows = await store.listReferrers(repository, subject);
        assert.deepEqual(rows.map((row) => row.digest), referrers.map((referrer) => referrer.digest).sort());
        const first = rows.find((row) => row.digest === referrers[0]?.digest);
        assert.deepEqual(first, {
          digest: referrers[0]?.digest,
          mediaType: OCI_MANIFEST,
          size: referrers[0]?.payload.length,
          artifactType: 'application/vnd.example.a',
          annotations: JSON.stringify({ k: 'v' }),
        });
        const filtered = await store.listReferrers(repository, subject, 'application/vnd.example.b');
        assert.deepEqual(filtered.map((row) => row.digest), [referrers[2]?.digest]);
        assert.deepEqual(await store.listReferrers(repository, digest('nobody refers')), []);
        assert.deepEqual(await store.listReferrers(freshName('unknown'), subject), []);
      });

      it('listReferrers drops a referrer deleted from the repository', async () => {
        const repository = freshName('referrer-delete');
        const subject = digest('deleted referrer subject');
        const referrer = manifest(repository, 'deleted referrer', { subject });
        await store.putManifest(referrer);
        await store.deleteManifest(repository, referrer.digest);
        assert.deepEqual(await store.listReferrers(repository, subject), []);
      });
    });

    describe('uploads', () => {
      it('createUpload / getUpload (scoped to its repository) / hasUpload / deleteUpload', async () => {
        const repository = freshName('uploads');
        const upload = { id: `upload-${++counter}`, repository, startedAt: 1_000 };
        await store.createUpload(upload);
        assert.deepEqual(await store.getUpload(repository, upload.id), upload);
        assert.equal(await store.getUpload(freshName('other'), upload.id), undefined);
        assert.equal(await store.hasUpload(upload.id), true);
        await store.deleteUpload(upload.id);
        assert.equal(await store.getUpload(repository, upload.id), undefined);
        assert.equal(await store.hasUpload(upload.id), false);
        await store.deleteUpload(upload.id);
      });

      it('linkBlob with a completed upload ends that session in the same step', async () => {
        const repository = freshName('completed');
        const upload = { id: `upload-${++counter}`, repository, startedAt: 2_000 };
        await store.createUpload(upload);
        const blob = { digest: digest('completed upload'), size: 16 };
        await store.linkBlob(repository, blob, upload.id);
        assert.deepEqual(await store.getRepositoryBlob(repository, blob.digest), blob);
        assert.equal(await store.hasUpload(upload.id), false);
      });

      it('a new session has an empty state at version 0; an unknown one has none', async () => {
        const upload = { id: `upload-${++counter}`, repository: freshName('state'), startedAt: 3_000 };
        await store.createUpload(upload);
        assert.deepEqual(await store.getUploadState(upload.id), { offset: 0, hashState: null, writer: null, writerUntil: 0, version: 0 });
        assert.equal(await store.getUploadState(`missing-${++counter}`), undefined);
      });

      it('casUploadState replaces the state once per version: the second of two writers on one version loses', async () => {
        const upload = { id: `upload-${++counter}`, repository: freshName('cas'), startedAt: 3_000 };
        await store.createUpload(upload);
        const claims = await Promise.all(
          ['a', 'b'].map((writer) => store.casUploadState(upload.id, 0, { offset: 0, hashState: null, writer, writerUntil: 10_000 })),
        );
        assert.deepEqual(claims.filter(Boolean).length, 1, 'exactly one claim of version 0 succeeds');
        const claimed = await store.getUploadState(upload.id);
        assert.equal(claimed?.version, 1);
        assert.equal(claimed?.writer, claims[0] ? 'a' : 'b');
        const state = Buffer.from([0, 1, 2, 255, 128]);
        assert.equal(await store.casUploadState(upload.id, 1, { offset: 7 * 1024 * 1024 * 1024, hashState: state, writer: null, writerUntil: 0 }), true);
        assert.deepEqual(await store.getUploadState(upload.id), { offset: 7 * 1024 * 1024 * 1024, hashState: state, writer: null, writerUntil: 0, version: 2 });
        assert.equal(await store.casUploadState(upload.id, 1, { offset: 1, hashState: null, writer: 'late', writerUntil: 0 }), false);
        assert.equal((await store.getUploadState(upload.id))?.offset, 7 * 1024 * 1024 * 1024);
      });

      it('casUploadState on an ended session changes nothing', async () => {
        const upload = { id: `upload-${++counter}`, repository: freshName('cas-gone'), startedAt: 3_000 };
        await store.createUpload(upload);
        await store.deleteUpload(upload.id);
        assert.equal(await store.casUploadState(upload.id, 0, { offset: 0, hashState: null, writer: 'x', writerUntil: 1 }), false);
        assert.equal(await store.getUploadState(upload.id), undefined);
      });

      it('listUploadsStartedBefore: oldest first, limited, only those before the time', async () => {
        const repository = freshName('old-uploads');
        const base = 5_000_000 + ++counter * 1000;
        const uploads = [3, 1, 2, 9].map((offset) => ({ id: `old-${base}-${offset}`, repository, startedAt: base + offset }));
        for (const upload of uploads) await store.createUpload(upload);
        const before = (await store.listUploadsStartedBefore(base + 5, 1000)).filter((upload) => upload.repository === repository);
        assert.deepEqual(before.map((upload) => upload.startedAt), [base + 1, base + 2, base + 3]);
        const limited = await store.listUploadsStartedBefore(base + 5, 1);
        assert.equal(limited.length, 1);
      });
    });
  });
}

metadataStoreSuite({
  name: 'SqliteStore (:memory:)',
  create: () => new SqliteStore({ path: ':memory:' }),
  dispose: () => undefined,
});

let directory = '';
metadataStoreSuite({
  name: 'SqliteStore (file)',
  create: () => {
    directory = mkdtempSync(join(tmpdir(), 'berth-metadata-'));
    return new SqliteStore({ path: join(directory, 'metadata.sqlite'), synchronous: 'NORMAL' });
  },
  dispose: () => rmSync(directory, { recursive: true, force: true }),
});

describe('SqliteStore (file) with two connections on one file', () => {
  it('tag pages read by one connection follow the tags another connection writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-metadata-two-'));
    try {
      const path = join(dir, 'metadata.sqlite');
      const server = new SqliteStore({ path });
      const other = new SqliteStore({ path });
      const m = manifest('two/repo', 'two connections');
      await server.putManifest({ ...m, tag: 'a' });
      await server.putManifest({ ...m, tag: 'b' });
      assert.deepEqual(await server.listTags('two/repo', { limit: 10 }), ['a', 'b']);
      await other.putManifest({ ...m, tag: 'c' });
      assert.deepEqual(await server.listTags('two/repo', { limit: 10 }), ['a', 'b', 'c']);
      // Retention in another process (berth gc) deletes tags there.
      await other.removeUntagged('two/repo', { deleteTags: ['a', 'c'] }, false);
      assert.deepEqual(await server.listTags('two/repo', { limit: 10 }), ['b']);
      await other.deleteManifest('two/repo', m.digest);
      assert.deepEqual(await server.listTags('two/repo', { limit: 10 }), []);
      await other.close();
      await server.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('retention through the same connection drops the cached page', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const m = manifest('retained/repo', 'retention');
    for (const tag of ['x', 'y', 'z']) await store.putManifest({ ...m, tag });
    assert.deepEqual(await store.listTags('retained/repo', { limit: 2 }), ['x', 'y']);
    await store.removeUntagged('retained/repo', { deleteTags: ['x'] }, false);
    assert.deepEqual(await store.listTags('retained/repo', { limit: 2 }), ['y', 'z']);
    // A dry run rolls back: the names are unchanged.
    await store.removeUntagged('retained/repo', { deleteTags: ['y'] }, true);
    assert.deepEqual(await store.listTags('retained/repo', { limit: 2 }), ['y', 'z']);
    await store.close();
  });
});

describe('SqliteStore (file) opened by several processes at once (http.workers)', () => {
  it('each process migrates a fresh file or finds it migrated: none fails, the schema is complete', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-metadata-race-'));
    try {
      const path = join(dir, 'metadata.sqlite');
      const go = join(dir, 'go');
      const storeModule = new URL('../../src/metadata/sqlite/sqlite-store.js', import.meta.url).href;
      // Each child spins until the go file appears, so that they open the file at the same instant.
      const script = `import { existsSync } from 'node:fs'; import { SqliteStore } from ${JSON.stringify(storeModule)};
        while (!existsSync(${JSON.stringify(go)})) {}
        const store = new SqliteStore({ path: ${JSON.stringify(path)} });
        const status = await store.schemaStatus();
        await store.close();
        process.stdout.write(JSON.stringify(status));`;
      const children = Array.from({ length: 6 }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] }));
      const results = children.map(
        (child) =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
            let out = '';
            let err = '';
            child.stdout.on('data', (c: Buffer) => (out += c.toString()));
            child.stderr.on('data', (c: Buffer) => (err += c.toString()));
            child.on('exit', (code) => resolve({ code, out, err }));
          }),
      );
      // Give every child time to load the module and start spinning.
      await sleep(1500);
      writeFileSync(go, '');
      for (const result of await Promise.all(results)) {
        assert.equal(result.code, 0, result.err);
        const status = JSON.parse(result.out) as { applied: number; expected: number };
        assert.equal(status.applied, status.expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteStore (file) keeps its rows across a reopen', () => {
  it('a store reopened on the same file sees manifests, tags and uploads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-metadata-reopen-'));
    try {
      const path = join(dir, 'metadata.sqlite');
      const first = new SqliteStore({ path });
      const m = manifest('reopen/repo', 'reopen', { tag: 'kept' });
      await first.putManifest(m);
      await first.createUpload({ id: 'reopen-upload', repository: 'reopen/repo', startedAt: 1 });
      await first.close();
      const second = new SqliteStore({ path });
      assert.equal((await second.getManifestByTag('reopen/repo', 'kept'))?.digest, m.digest);
      assert.equal(await second.hasUpload('reopen-upload'), true);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteStore (file) with background WAL checkpoints', () => {
  /** The WAL header's checkpoint sequence number: it moves when a writer restarts a fully checkpointed WAL. */
  function walCheckpointSequence(path: string): number {
    const fd = openSync(`${path}-wal`, 'r');
    try {
      const header = Buffer.alloc(16);
      readSync(fd, header, 0, 16, 0);
      return header.readUInt32BE(12);
    } finally {
      closeSync(fd);
    }
  }

  it('a worker thread checkpoints what the server connection commits, which then restarts the WAL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-metadata-checkpoint-'));
    try {
      const path = join(dir, 'metadata.sqlite');
      const errors: string[] = [];
      const store = new SqliteStore({ path, onBackgroundCheckpointError: (message) => errors.push(message) });
      await store.createUpload({ id: 'first', repository: 'ckpt/repo', startedAt: 1 });
      const before = walCheckpointSequence(path);
      // A few hundred pages: far below the point where the connection would checkpoint by itself.
      for (let i = 0; i < 250 && walCheckpointSequence(path) === before; i++) {
        await store.createUpload({ id: `upload-${i}`, repository: 'ckpt/repo', startedAt: 1 });
        await sleep(20);
      }
      assert.notEqual(walCheckpointSequence(path), before, 'no checkpoint restarted the WAL');
      assert.equal(await store.hasUpload('upload-0'), true);
      assert.deepEqual(errors, []);
      await store.close();
      // The worker closed first; the server connection, closing last, removed the WAL.
      assert.equal(existsSync(`${path}-wal`), false);
      const reopened = new SqliteStore({ path });
      assert.equal(await reopened.hasUpload('first'), true);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

let database: TestDatabase | undefined;
metadataStoreSuite({
  name: 'PostgresStore',
  create: async () => {
    database = await createTestDatabase('metadata');
    return database.open();
  },
  dispose: async () => {
    await database?.drop();
  },
});
