// One behaviour suite for SharedStateStore (src/metadata/shared-state.ts), over SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PolicyStore } from '../../src/metadata/lifecycle.js';
import type { SharedStateStore } from '../../src/metadata/shared-state.js';
import type { MetadataStore } from '../../src/metadata/store.js';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';

interface Factory {
  readonly name: string;
  /** Two stores on one database (two instances). */
  create(): Promise<[SharedStateStore & { close(): Promise<void> }, SharedStateStore & { close(): Promise<void> }]>;
  dispose(): Promise<void>;
}

let counter = 0;

function sharedStateSuite(factory: Factory): void {
  describe(`SharedStateStore behaviour: ${factory.name}`, () => {
    let one: SharedStateStore & { close(): Promise<void> };
    let two: SharedStateStore & { close(): Promise<void> };
    before(async () => {
      [one, two] = await factory.create();
    });
    after(async () => {
      await one.close();
      await two.close();
      await factory.dispose();
    });

    it('sharedValue: the first value stored wins, for every instance, also when they race', async () => {
      const name = `key-${++counter}`;
      const values = await Promise.all([one.sharedValue(name, 'from one'), two.sharedValue(name, 'from two'), one.sharedValue(name, 'later')]);
      assert.equal(new Set(values).size, 1);
      assert.ok(values[0] === 'from one' || values[0] === 'from two');
      assert.equal(await two.sharedValue(name, 'again'), values[0]);
    });

    it('upstream tag confirmations: seen by every instance; a later one replaces an earlier, never the reverse', async () => {
      const repository = `mirror/app-${++counter}`;
      assert.equal(await two.upstreamTagConfirmation(repository, 'v1'), undefined);
      await one.confirmUpstreamTag(repository, 'v1', 'sha256:aa', 5_000);
      assert.deepEqual(await two.upstreamTagConfirmation(repository, 'v1'), { digest: 'sha256:aa', at: 5_000 });
      await two.confirmUpstreamTag(repository, 'v1', 'sha256:bb', 6_000);
      await one.confirmUpstreamTag(repository, 'v1', 'sha256:aa', 5_500);
      assert.deepEqual(await one.upstreamTagConfirmation(repository, 'v1'), { digest: 'sha256:bb', at: 6_000 }, 'the late write of an older confirmation is ignored');
      assert.equal(await one.upstreamTagConfirmation(repository, 'v2'), undefined, 'per tag');
      assert.equal(await one.upstreamTagConfirmation(`${repository}-other`, 'v1'), undefined, 'per repository');
    });

    it('a tag removed (DELETE of the tag, of its manifest, or by retention) takes its upstream confirmation with it', async () => {
      // Both implementations are full stores; the confirmations live beside the tags they confirm.
      const store = one as unknown as SharedStateStore & MetadataStore & Pick<PolicyStore, 'removeUntagged'>;
      const repository = `proxied/removed-${++counter}`;
      const put = async (label: string, tag: string): Promise<string> => {
        const digest = `sha256:${label.repeat(64).slice(0, 64)}`;
        const result = await store.putManifest({ repository, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', payload: Buffer.from(label), artifactType: null, annotations: null, subject: null, blobs: [], manifests: [], tag, fromUpstream: true });
        assert.ok(result.ok);
        await store.confirmUpstreamTag(repository, tag, digest, 1_000);
        return digest;
      };
      await put('a', 'by-tag');
      const manifest = await put('b', 'by-manifest');
      await store.putManifest({ repository, digest: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', payload: Buffer.from('b'), artifactType: null, annotations: null, subject: null, blobs: [], manifests: [], tag: 'by-manifest-too', fromUpstream: true });
      await store.confirmUpstreamTag(repository, 'by-manifest-too', manifest, 1_000);
      await put('c', 'by-retention');
      await put('d', 'kept');
      assert.equal(await store.deleteTag(repository, 'by-tag'), true);
      assert.equal(await store.deleteManifest(repository, manifest), true);
      await store.removeUntagged(repository, { deleteTags: ['by-retention'] }, false);
      for (const tag of ['by-tag', 'by-manifest', 'by-manifest-too', 'by-retention']) assert.equal(await two.upstreamTagConfirmation(repository, tag), undefined, tag);
      assert.notEqual(await two.upstreamTagConfirmation(repository, 'kept'), undefined, 'the others stay');
    });

    it('login failures are counted across instances within a window, and start again after it', async () => {
      const client = `10.0.0.${++counter}`;
      assert.equal(await one.loginWindow(client, 1_000, 100), undefined);
      assert.deepEqual(await one.countLoginFailure(client, 1_000, 100), { start: 1_000, failures: 1 });
      const counted = await Promise.all([one.countLoginFailure(client, 1_050, 100), two.countLoginFailure(client, 1_060, 100)]);
      assert.deepEqual(counted.map((window) => window.failures).sort(), [2, 3]);
      assert.deepEqual(await two.loginWindow(client, 1_099, 100), { start: 1_000, failures: 3 });
      assert.equal(await two.loginWindow(client, 1_100, 100), undefined);
      assert.deepEqual(await two.countLoginFailure(client, 1_100, 100), { start: 1_100, failures: 1 });
      assert.equal(await one.loginWindow(`other-${client}`, 1_050, 100), undefined);
    });

    it('pruneLoginWindows forgets only windows that ended', async () => {
      const old = `old-${++counter}`;
      const open = `open-${counter}`;
      await one.countLoginFailure(old, 10_000, 100);
      await one.countLoginFailure(open, 10_150, 100);
      assert.ok((await two.pruneLoginWindows(10_200, 100, 1000)) >= 1);
      assert.equal(await one.loginWindow(old, 10_050, 100), undefined, 'pruned');
      assert.deepEqual(await one.loginWindow(open, 10_200, 100), { start: 10_150, failures: 1 });
    });

    it('claimWorkLease: exactly one of several racing holders gets a free lease; it renews; others wait for its expiry or release', async () => {
      const name = `fill-${++counter}`;
      const claims = await Promise.all([one.claimWorkLease(name, 'a', 1_000, 100), two.claimWorkLease(name, 'b', 1_000, 100), two.claimWorkLease(name, 'c', 1_000, 100)]);
      assert.equal(claims.filter(Boolean).length, 1, 'one holder');
      const holder = ['a', 'b', 'c'][claims.indexOf(true)] ?? '';
      const other = holder === 'a' ? 'b' : 'a';
      assert.equal(await two.claimWorkLease(name, other, 1_050, 100), false, 'held');
      assert.equal(await one.claimWorkLease(name, holder, 1_090, 100), true, 'renewed by its holder');
      assert.equal(await two.claimWorkLease(name, other, 1_150, 100), false, 'the renewal moved the expiry to 1190');
      assert.equal(await two.claimWorkLease(name, other, 1_190, 100), true, 'expired: taken over');
      await one.releaseWorkLease(name, holder);
      assert.equal(await one.claimWorkLease(name, 'd', 1_200, 100), false, 'a release by a former holder does nothing');
      await two.releaseWorkLease(name, other);
      assert.equal(await one.claimWorkLease(name, 'd', 1_200, 100), true, 'released: free at once');
    });
  });
}

let directory = '';
sharedStateSuite({
  name: 'SqliteStore (two connections on one file)',
  create: () => {
    directory = mkdtempSync(join(tmpdir(), 'berth-shared-state-'));
    const path = join(directory, 'metadata.sqlite');
    const first = new SqliteStore({ path });
    return Promise.resolve([first, new SqliteStore({ path })]);
  },
  dispose: () => {
    rmSync(directory, { recursive: true, force: true });
    return Promise.resolve();
  },
});

let database: TestDatabase | undefined;
sharedStateSuite({
  name: 'PostgresStore (two stores on one database)',
  create: async () => {
    database = await createTestDatabase('shared_state');
    return [await database.open(), await database.open()];
  },
  dispose: async () => {
    await database?.drop();
  },
});
