// Deleting a manifest by digest never deletes an immutable tag on it, even one put on the manifest
// after the delete began (by another instance): the check runs inside the delete's transaction, on
// SQLite and on PostgreSQL (two stores on one database, as two instances).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { ProtectedTagError, type MetadataStore, type NewManifest } from '../../src/metadata/store.js';
import { RegistryError } from '../../src/registry/errors.js';
import { LifecyclePolicy } from '../../src/registry/lifecycle-policy.js';
import { ManifestService } from '../../src/registry/manifest-service.js';
import type { Digest } from '../../src/registry/digest.js';
import type { RepositoryName } from '../../src/registry/names.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';

let counter = 0;
const unique = (label: string): string => `${label}-${++counter}-${process.pid}`;
const digestOf = (label: string): string => `sha256:${createHash('sha256').update(label).digest('hex')}`;
const policy = new LifecyclePolicy({ immutable: [{ repositories: ['prod/**'], tags: ['v[0-9].*'] }], quotas: [] });

function manifest(repository: string, tag: string | null, label = unique('manifest')): NewManifest {
  return { repository, digest: digestOf(label), mediaType: 'application/vnd.oci.image.manifest.v1+json', payload: Buffer.from(JSON.stringify({ label })), artifactType: null, annotations: null, subject: null, blobs: [], manifests: [], tag };
}

/** `store`, whose deleteManifest first lets `meanwhile` run: what another request does after the delete began. */
function interleaved(store: MetadataStore, meanwhile: () => Promise<unknown>): MetadataStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'deleteManifest') {
        return async (...args: Parameters<MetadataStore['deleteManifest']>) => {
          await meanwhile();
          return target.deleteManifest(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function suite(name: string, open: () => Promise<{ deleter: MetadataStore; pusher: MetadataStore; dispose(): Promise<void> }>): void {
  describe(`immutable tags and delete-by-digest: ${name}`, () => {
    let stores: Awaited<ReturnType<typeof open>>;
    before(async () => {
      stores = await open();
    });
    after(() => stores.dispose());

    it('deleteManifest with isProtected refuses (ProtectedTagError) and removes nothing when a protected tag is on it', async () => {
      const repository = `prod/${unique('store')}`;
      const m = manifest(repository, 'v1');
      await stores.pusher.putManifest(m);
      await assert.rejects(stores.deleter.deleteManifest(repository, m.digest, undefined, (tag) => tag === 'v1'), (error: unknown) => error instanceof ProtectedTagError && error.tag === 'v1');
      assert.equal((await stores.deleter.getManifestByTag(repository, 'v1'))?.digest, m.digest);
      assert.equal(await stores.deleter.deleteManifest(repository, m.digest, undefined, (tag) => tag === 'v2'), true);
    });

    it('an immutable tag put on the manifest after the delete began → 403 DENIED with tag and digest, both still there', async () => {
      const repository = `prod/${unique('race')}` as RepositoryName;
      const m = manifest(repository, 'latest');
      await stores.pusher.putManifest(m);
      // Another instance tags the manifest v1 (immutable) after this delete looked at its tags.
      const service = new ManifestService(interleaved(stores.deleter, () => stores.pusher.putManifest({ ...m, tag: 'v1', immutableTag: true })), policy);
      await assert.rejects(
        service.delete(repository, { digest: m.digest as Digest }),
        (error: unknown) =>
          error instanceof RegistryError && error.code === 'DENIED' && error.status === 403 &&
          JSON.stringify(error.detail) === JSON.stringify({ repository, tag: 'v1', digest: m.digest, current: m.digest, reason: 'TAG_IMMUTABLE' }),
      );
      assert.equal((await stores.deleter.getManifestByTag(repository, 'v1'))?.digest, m.digest);
      assert.equal((await stores.deleter.getManifestByDigest(repository, m.digest))?.digest, m.digest);
    });

    it('DELETE by an immutable tag → 403 DENIED whose detail names the digest', async () => {
      const repository = `prod/${unique('bytag')}` as RepositoryName;
      const m = manifest(repository, 'v2');
      await stores.pusher.putManifest(m);
      const service = new ManifestService(stores.deleter, policy);
      await assert.rejects(service.delete(repository, { tag: 'v2' as never }), (error: unknown) => error instanceof RegistryError && (error.detail as { digest?: string }).digest === m.digest);
      assert.equal((await stores.deleter.getManifestByTag(repository, 'v2'))?.digest, m.digest);
    });
  });
}

suite('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-immutable-'));
  const store = new SqliteStore({ path: join(dir, 'metadata.sqlite') });
  return Promise.resolve({
    deleter: store,
    pusher: store,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

suite('PostgreSQL (two stores on one database)', async () => {
  const database: TestDatabase = await createTestDatabase('immutable');
  const deleter = await database.open();
  const pusher = await database.open();
  return {
    deleter,
    pusher,
    dispose: async () => {
      await deleter.close();
      await pusher.close();
      await database.drop();
    },
  };
});
