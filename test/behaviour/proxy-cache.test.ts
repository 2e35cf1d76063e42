// One behaviour suite for ProxyCacheStore (src/metadata/proxy-cache.ts), over SQLite and PostgreSQL:
// the cache's pull times and its least-recently-used order, which eviction (src/gc/cache-eviction.ts)
// walks, and eviction itself over each store.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { evictCache, type EvictionStore } from '../../src/gc/cache-eviction.js';
import type { ProxyCacheStore } from '../../src/metadata/proxy-cache.js';
import type { MetadataStore } from '../../src/metadata/store.js';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';

type Store = MetadataStore & ProxyCacheStore & EvictionStore;

interface Factory {
  readonly name: string;
  create(): Promise<Store>;
  dispose(): Promise<void>;
}

let counter = 0;

function proxyCacheSuite(factory: Factory): void {
  describe(`ProxyCacheStore behaviour: ${factory.name}`, () => {
    let store: Store;
    before(async () => {
      store = await factory.create();
    });
    after(async () => {
      await store.close();
      await factory.dispose();
    });

    /** A cached manifest with one blob of `size` bytes of its own; returns its digest. */
    const cache = async (repository: string, label: string, tag: string | null, size = 100): Promise<string> => {
      const hex = (text: string): string => Buffer.from(text).toString('hex').padEnd(64, '0').slice(0, 64);
      const digest = `sha256:${hex(`m${label}`)}`;
      const blob = `sha256:${hex(`b${label}`)}`;
      await store.linkBlob(repository, { digest: blob, size });
      const result = await store.putManifest({ repository, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', payload: Buffer.from(label), artifactType: null, annotations: null, subject: null, blobs: [blob], manifests: [], tag, fromUpstream: true });
      assert.ok(result.ok);
      return digest;
    };

    it('pull times move forward only; the order is least recently used first, a manifest never pulled counting from when it was cached', async () => {
      const ns = `lru${++counter}/`;
      const a = await cache(`${ns}a`, `a${counter}`, 'v1');
      const b = await cache(`${ns}b`, `b${counter}`, null);
      const c = await cache(`${ns}c`, `c${counter}`, 'v1');
      const now = Date.now();
      await store.recordManifestPulls([
        { repository: `${ns}a`, digest: a, at: now + 3_000 },
        { repository: `${ns}c`, digest: c, at: now + 1_000 },
        { repository: `${ns}unknown`, digest: a, at: now + 9_000 },
      ]);
      await store.recordManifestPulls([{ repository: `${ns}a`, digest: a, at: now + 2_000 }]);
      const order = await store.leastRecentlyUsed(ns, undefined, 10);
      assert.deepEqual(order.map((entry) => entry.digest), [b, c, a], 'b (cached, never pulled), then c, then a');
      assert.equal(order[2]?.usedAt, now + 3_000, 'an earlier pull time does not move it back');
      assert.ok((order[0]?.usedAt ?? 0) <= now, 'never pulled: its caching time');
      assert.equal(order[2]?.bytes, `a${counter}`.length + 100, 'its payload and its blob: the most evicting it frees');
      assert.deepEqual((await store.leastRecentlyUsed(ns, now + 2_000, 10)).map((entry) => entry.digest), [b, c], 'used before');
      assert.deepEqual((await store.leastRecentlyUsed(ns, undefined, 1)).map((entry) => entry.digest), [b], 'limit');
    });

    it('a prefix takes only the names below it', async () => {
      const ns = `pre${++counter}`;
      const inside = await cache(`${ns}/x/y`, `in${counter}`, 'v1');
      await cache(`${ns}x/y`, `sib${counter}`, 'v1');
      await cache(`${ns}0`, `zero${counter}`, 'v1');
      await cache(ns, `bare${counter}`, 'v1');
      assert.deepEqual((await store.leastRecentlyUsed(`${ns}/`, undefined, 10)).map((entry) => entry.digest), [inside]);
      assert.ok((await store.leastRecentlyUsed('', undefined, 1000)).length >= 4, "'' is every repository");
    });

    it('eviction: unused for the given time, then least recently used while over the size limit; tags go with their manifest', async () => {
      const ns = `ev${++counter}/`;
      const now = Date.now();
      const old = await cache(`${ns}old`, `old${counter}`, 'v1', 1_000);
      const lru = await cache(`${ns}lru`, `lru${counter}`, 'v1', 1_000);
      const recent = await cache(`${ns}recent`, `recent${counter}`, 'v1', 1_000);
      const other = await cache(`other${counter}/kept`, `other${counter}`, 'v1', 1_000);
      await store.recordManifestPulls([
        { repository: `${ns}lru`, digest: lru, at: now + 10_000 },
        { repository: `${ns}recent`, digest: recent, at: now + 20_000 },
      ]);
      const rule = { prefix: ns, unusedForMs: 5_000, maxBytes: 1_500 };
      const dry = await evictCache(store, [rule], true, undefined, now + 6_000);
      assert.deepEqual(dry.manifests, [`${ns}old@${old}`], 'a dry run reports the unused one');
      assert.notEqual(await store.getManifestByTag(`${ns}old`, 'v1'), undefined, 'and removes nothing');
      const report = await evictCache(store, [rule], false, undefined, now + 6_000);
      assert.deepEqual(report.manifests, [`${ns}old@${old}`, `${ns}lru@${lru}`], 'unused first, then least recently used until under 1,500 bytes');
      assert.equal(await store.getManifestByTag(`${ns}old`, 'v1'), undefined);
      assert.equal(await store.getManifestByDigest(`${ns}lru`, lru), undefined);
      assert.notEqual(await store.getManifestByTag(`${ns}recent`, 'v1'), undefined, 'the most recently used stays');
      assert.notEqual(await store.getManifestByDigest(`other${counter}/kept`, other), undefined, 'another prefix is not touched');
      assert.equal((await evictCache(store, [rule], false, undefined, now + 6_000)).count, 0, 'under the limit: nothing more');
    });

    it('eviction by size with shared blobs: what goes is what one-at-a-time measuring would take, no more', async () => {
      const ns = `shared${++counter}/`;
      const hex = (text: string): string => Buffer.from(text).toString('hex').padEnd(64, '0').slice(0, 64);
      const shared = `sha256:${hex(`shared blob ${counter}`)}`;
      const put = async (repository: string, label: string, blobs: string[]): Promise<string> => {
        const digest = `sha256:${hex(`m${label}`)}`;
        const result = await store.putManifest({ repository, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', payload: Buffer.from(label), artifactType: null, annotations: null, subject: null, blobs, manifests: [], tag: 'v1', fromUpstream: true });
        assert.ok(result.ok);
        return digest;
      };
      const own = `sha256:${hex(`own blob ${counter}`)}`;
      for (const [repository, blob] of [[`${ns}one`, shared], [`${ns}two`, shared], [`${ns}three`, own]] as const) await store.linkBlob(repository, { digest: blob, size: 1_000 });
      const now = Date.now();
      const one = await put(`${ns}one`, `one${counter}`, [shared]);
      const two = await put(`${ns}two`, `two${counter}`, [shared]);
      const three = await put(`${ns}three`, `three${counter}`, [own]);
      await store.recordManifestPulls([
        { repository: `${ns}one`, digest: one, at: now + 1_000 },
        { repository: `${ns}two`, digest: two, at: now + 2_000 },
        { repository: `${ns}three`, digest: three, at: now + 3_000 },
      ]);
      // 2,000 bytes of blobs and some payload; room for 1,500: the shared blob must go, so both its holders.
      const report = await evictCache(store, [{ prefix: ns, unusedForMs: 0, maxBytes: 1_500 }], false);
      assert.deepEqual(report.manifests, [`${ns}one@${one}`, `${ns}two@${two}`]);
      assert.notEqual(await store.getManifestByDigest(`${ns}three`, three), undefined);
    });
  });
}

let directory = '';
proxyCacheSuite({
  name: 'SqliteStore',
  create: () => {
    directory = mkdtempSync(join(tmpdir(), 'berth-proxy-cache-'));
    return Promise.resolve(new SqliteStore({ path: join(directory, 'metadata.sqlite') }));
  },
  dispose: () => {
    rmSync(directory, { recursive: true, force: true });
    return Promise.resolve();
  },
});

let database: TestDatabase | undefined;
proxyCacheSuite({
  name: 'PostgresStore',
  create: async () => {
    database = await createTestDatabase('proxy_cache');
    return database.open();
  },
  dispose: async () => {
    await database?.drop();
  },
});
