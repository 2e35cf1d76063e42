// Behaviour of the EventStore (the notification outbox): events appended with the change they
// report and only then, in commit order; per-endpoint cursors that start at the end; leases that
// let one owner deliver at a time; pruning of what every cursor passed. Run against every
// implementation (a PostgreSQL store passes the same suite).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { EventStore, OutboxEvent } from '../../src/metadata/event-store.js';
import type { LifecycleStore, PolicyStore } from '../../src/metadata/lifecycle.js';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';
import type { MetadataStore, NewManifest } from '../../src/metadata/store.js';

type Store = MetadataStore & EventStore & LifecycleStore & PolicyStore;

interface StoreFactory {
  readonly name: string;
  create(): Store | Promise<Store>;
  dispose(): void | Promise<void>;
}

let counter = 0;
const unique = (label: string): string => `${label}-${++counter}-${process.pid}`;
const digest = (label: string): string => `sha256:${createHash('sha256').update(label).digest('hex')}`;
const event = (repository: string, label: string): OutboxEvent => ({ repository, payload: JSON.stringify({ label }) });
const labels = (events: readonly { payload: string }[]): string[] => events.map((e) => (JSON.parse(e.payload) as { label: string }).label);

function manifest(repository: string, extra: Partial<NewManifest> = {}): NewManifest {
  const label = unique('manifest');
  return { repository, digest: digest(label), mediaType: 'application/vnd.oci.image.manifest.v1+json', payload: Buffer.from(JSON.stringify({ label })), artifactType: null, annotations: null, subject: null, blobs: [], manifests: [], tag: null, ...extra };
}

/** Everything after the endpoint's cursor, in order. */
async function pending(store: Store, endpoint: string): Promise<string[]> {
  return labels(await store.claimBatch(endpoint, 10_000));
}

export function eventStoreSuite(factory: StoreFactory): void {
  describe(`EventStore behaviour: ${factory.name}`, () => {
    let store: Store;
    before(async () => {
      store = await factory.create();
    });
    after(async () => {
      await store.close();
      await factory.dispose();
    });

    it('a new endpoint starts after the newest event; later events are claimed in order', async () => {
      const endpoint = unique('ep');
      await store.appendEvents([event('r', 'before')]);
      await store.openEndpoint(endpoint);
      assert.deepEqual(await pending(store, endpoint), []);
      await store.appendEvents([event('r', 'a'), event('s', 'b')]);
      await store.appendEvents([event('r', 'c')]);
      assert.deepEqual(await pending(store, endpoint), ['a', 'b', 'c']);
      const batch = await store.claimBatch(endpoint, 2);
      assert.deepEqual(labels(batch), ['a', 'b']);
      assert.ok((batch[0]?.seq ?? 0) < (batch[1]?.seq ?? 0));
      assert.equal(batch[1]?.repository, 's');
      await store.openEndpoint(endpoint); // opening again keeps the cursor
      assert.deepEqual(await pending(store, endpoint), ['a', 'b', 'c']);
    });

    it('events go in with their change, in the same transaction, and not when the change does not happen', async () => {
      const endpoint = unique('ep');
      await store.openEndpoint(endpoint);
      const repository = `ev/${unique('repo')}`;
      const blob = { digest: digest(unique('blob')), size: 3 };
      await store.linkBlob(repository, blob, undefined, undefined, [event(repository, 'blob pushed')]);
      const good = manifest(repository, { blobs: [blob.digest], tag: 'v1' });
      assert.deepEqual(await store.putManifest(good, [event(repository, 'manifest pushed')]), { ok: true });
      const missing = manifest(repository, { blobs: [digest('nowhere')] });
      assert.equal((await store.putManifest(missing, [event(repository, 'refused push')])).ok, false);
      assert.equal(await store.deleteTag(repository, 'v1', [event(repository, 'tag deleted')]), true);
      assert.equal(await store.deleteTag(repository, 'v1', [event(repository, 'tag deleted twice')]), false);
      assert.equal(await store.deleteManifest(repository, good.digest, [event(repository, 'manifest deleted')]), true);
      assert.equal(await store.deleteManifest(repository, good.digest, [event(repository, 'manifest deleted twice')]), false);
      assert.equal(await store.unlinkBlob(repository, blob.digest, [event(repository, 'blob deleted')]), true);
      assert.equal(await store.unlinkBlob(repository, blob.digest, [event(repository, 'blob deleted twice')]), false);
      assert.deepEqual(await pending(store, endpoint), ['blob pushed', 'manifest pushed', 'tag deleted', 'manifest deleted', 'blob deleted']);
    });

    it('an immutable tag refusal rolls its event back with it', async () => {
      const endpoint = unique('ep');
      await store.openEndpoint(endpoint);
      const repository = `ev/${unique('repo')}`;
      await store.putManifest(manifest(repository, { tag: 'stable', immutableTag: true }), [event(repository, 'first')]);
      const result = await store.putManifest(manifest(repository, { tag: 'stable', immutableTag: true }), [event(repository, 'moved')]);
      assert.equal(result.ok, false);
      assert.deepEqual(await pending(store, endpoint), ['first']);
    });

    it('the collector and the policies report what they remove, per repository, in their transaction', async () => {
      const endpoint = unique('ep');
      await store.openEndpoint(endpoint);
      const repository = `ev/${unique('repo')}`;
      const blob = { digest: digest(unique('gc blob')), size: 5 };
      await store.linkBlob(repository, blob);
      await store.linkBlob(`${repository}-other`, blob);
      const removals = (removed: Parameters<NonNullable<Parameters<Store['beginBlobDeletions']>[3]>>[0]): OutboxEvent => event(removed.repository, `${removed.kind} ${removed.repository.endsWith('other') ? 'other' : 'main'}`);
      const dry = await store.beginBlobDeletions(Date.now() + 1000, 10_000, true, removals);
      assert.ok(dry.deleting.some((d) => d.digest === blob.digest));
      assert.deepEqual(await pending(store, endpoint), [], 'a dry run records nothing');
      const run = await store.beginBlobDeletions(Date.now() + 1000, 10_000, false, removals);
      assert.ok(run.deleting.some((d) => d.digest === blob.digest));
      const afterGc = await pending(store, endpoint);
      assert.ok(afterGc.includes('blob main') && afterGc.includes('blob other'), afterGc.join(', '));
      await store.finishBlobDeletions(run.deleting.map((d) => d.digest));

      const tagged = manifest(repository, { tag: 'old' });
      await store.putManifest(tagged);
      const endpoint2 = unique('ep');
      await store.openEndpoint(endpoint2);
      const removed = await store.removeUntagged(repository, { deleteTags: ['old'] }, false, (r) => event(r.repository, r.kind === 'tag' ? `tag ${r.tag} ${r.digest === tagged.digest}` : `${r.kind} ${r.digest === tagged.digest}`));
      assert.deepEqual(removed.tags, ['old']);
      assert.deepEqual(await pending(store, endpoint2), ['tag old true', 'manifest true']);
    });

    it('one owner holds an endpoint lease at a time; it moves when released or expired; only the holder moves the cursor', async () => {
      const endpoint = unique('ep');
      await store.openEndpoint(endpoint);
      await store.appendEvents([event('r', 'x'), event('r', 'y')]);
      assert.equal(await store.acquireLease(endpoint, 'one', 60_000), true);
      assert.equal(await store.acquireLease(endpoint, 'two', 60_000), false);
      assert.equal(await store.acquireLease(endpoint, 'one', 60_000), true, 'the holder renews');
      const [first] = await store.claimBatch(endpoint, 1);
      assert.ok(first !== undefined);
      assert.equal(await store.markDelivered(endpoint, 'two', first.seq), false);
      assert.deepEqual(await pending(store, endpoint), ['x', 'y']);
      assert.equal(await store.markDelivered(endpoint, 'one', first.seq), true);
      assert.deepEqual(await pending(store, endpoint), ['y']);
      await store.releaseLease(endpoint, 'one');
      assert.equal(await store.acquireLease(endpoint, 'two', 50), true);
      await sleep(80);
      assert.equal(await store.markDelivered(endpoint, 'two', first.seq + 1000), false, 'an expired lease moves nothing');
      assert.equal(await store.acquireLease(endpoint, 'one', 60_000), true, 'an expired lease can be taken');
      assert.equal(await store.markDelivered(endpoint, 'one', 0), true);
      assert.deepEqual(await pending(store, endpoint), ['y'], 'the cursor never goes back');
    });

    it('the backlog counts what waits per endpoint and its age; pruning removes what every cursor passed', async () => {
      const a = unique('ep');
      const b = unique('ep');
      await store.openEndpoint(a);
      await store.openEndpoint(b);
      await store.appendEvents([event('r', 'p1'), event('r', 'p2'), event('r', 'p3')]);
      const backlog = await store.eventBacklog([a, b]);
      assert.equal(backlog.find((row) => row.endpoint === a)?.pending, 3);
      assert.ok((backlog.find((row) => row.endpoint === b)?.oldestAt ?? 0) <= Date.now());
      assert.ok(await store.acquireLease(a, 'me', 60_000));
      assert.ok(await store.acquireLease(b, 'me', 60_000));
      const all = await store.claimBatch(a, 3);
      await store.markDelivered(a, 'me', all[2]?.seq ?? 0);
      await store.markDelivered(b, 'me', all[0]?.seq ?? 0);
      await store.pruneEvents(3600_000);
      assert.deepEqual(await pending(store, b), ['p2', 'p3'], 'what b still needs stays');
      assert.deepEqual(await pending(store, a), []);
      assert.equal((await store.eventBacklog([a]))[0]?.pending, 0);
    });
  });
}

let directory = '';
eventStoreSuite({
  name: 'SqliteStore (file)',
  create: () => {
    directory = mkdtempSync(join(tmpdir(), 'berth-events-'));
    return new SqliteStore({ path: join(directory, 'metadata.sqlite') });
  },
  dispose: () => rmSync(directory, { recursive: true, force: true }),
});

let database: TestDatabase | undefined;
eventStoreSuite({
  name: 'PostgresStore',
  create: async () => {
    database = await createTestDatabase('events');
    return database.open();
  },
  dispose: async () => {
    await database?.drop();
  },
});
