// Quotas are atomic across concurrent pushes: N manifest PUTs that each fit but together exceed a
// quota → exactly the fitting number succeed, the rest get 403 DENIED (QUOTA_EXCEEDED). The store
// checks inside the transaction that records the manifest: on SQLite, and on PostgreSQL through two
// stores on one database (two instances).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { UsageStore } from '../../src/metadata/lifecycle.js';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import type { MetadataStore } from '../../src/metadata/store.js';
import { RegistryError } from '../../src/registry/errors.js';
import { LifecyclePolicy } from '../../src/registry/lifecycle-policy.js';
import { ManifestService } from '../../src/registry/manifest-service.js';
import type { RepositoryName, Tag } from '../../src/registry/names.js';
import { QuotaChecker } from '../../src/registry/quota.js';
import { createTestDatabase } from '../support/postgres-database.js';

type Store = MetadataStore & UsageStore;
const OCI = 'application/vnd.oci.image.manifest.v1+json';
let counter = 0;
const digestOf = (label: string): string => `sha256:${createHash('sha256').update(`${label}-${++counter}-${process.pid}`).digest('hex')}`;

/** A manifest of its own config (10 bytes) and layer (90 bytes), both linked into the repository first. */
async function image(store: Store, repository: string): Promise<Buffer> {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf('config'), size: 10 };
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf('layer'), size: 90 };
  await store.linkBlob(repository, { digest: config.digest, size: config.size });
  await store.linkBlob(repository, { digest: layer.digest, size: layer.size });
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI, config, layers: [layer] }));
}

function suite(name: string, open: () => Promise<{ stores: Store[]; dispose(): Promise<void> }>): void {
  describe(`quotas under concurrent pushes: ${name}`, () => {
    let opened: Awaited<ReturnType<typeof open>>;
    before(async () => {
      opened = await open();
    });
    after(() => opened.dispose());

    it('6 concurrent manifest PUTs of which 2 fit → exactly 2 succeed, 4 get 403 DENIED QUOTA_EXCEEDED, usage within the limit', async () => {
      const repository = `quota/race-${process.pid}-${++counter}` as RepositoryName;
      const first = opened.stores[0] as Store;
      const payloads: Buffer[] = [];
      for (let i = 0; i < 6; i++) payloads.push(await image(first, repository));
      const each = 100 + (payloads[0]?.length ?? 0);
      assert.ok(payloads.every((payload) => payload.length + 100 === each));
      const limitBytes = 2 * each + Math.floor(each / 2);
      const policy = new LifecyclePolicy({ immutable: [], quotas: [{ repositories: ['quota/**'], limitBytes, per: 'repository' }] });
      // A barrier: no manifest is recorded before all six PUTs have reached the store, so every
      // check made outside the recording transaction would see the same, empty usage.
      let arrived = 0;
      let release: () => void = () => undefined;
      const all = new Promise<void>((resolve) => (release = resolve));
      const barrier = (store: Store): Store =>
        new Proxy(store, {
          get(target, property, receiver) {
            if (property === 'putManifest') {
              return async (...args: Parameters<Store['putManifest']>) => {
                if (++arrived === payloads.length) release();
                await all;
                return target.putManifest(...args);
              };
            }
            const value: unknown = Reflect.get(target, property, receiver);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      const services = opened.stores.map((store) => new ManifestService(barrier(store), policy, new QuotaChecker(store, policy)));
      const outcomes = await Promise.allSettled(
        payloads.map((payload, i) => (services[i % services.length] as ManifestService).put(repository, { tag: `t${i}` as Tag }, OCI, payload)),
      );
      const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
      assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 2, JSON.stringify(refused.map((r) => String(r.reason))));
      for (const outcome of refused) {
        const error = outcome.reason as unknown;
        assert.ok(error instanceof RegistryError && error.code === 'DENIED' && error.status === 403, String(error));
        assert.equal((error.detail as { reason?: string }).reason, 'QUOTA_EXCEEDED');
      }
      const used = await first.usage({ repository });
      assert.equal(used.blobBytes + used.manifestBytes, 2 * each);
      assert.equal(used.manifests, 2);
    });
  });
}

suite('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-quota-race-'));
  const store = new SqliteStore({ path: join(dir, 'metadata.sqlite') });
  return Promise.resolve({
    stores: [store],
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

suite('PostgreSQL (two stores on one database)', async () => {
  const database = await createTestDatabase('quota_race');
  const stores = [await database.open(), await database.open()];
  return {
    stores,
    dispose: async () => {
      for (const store of stores) await store.close();
      await database.drop();
    },
  };
});
