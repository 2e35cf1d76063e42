// What the pull-through cache reports to notification endpoints: each fill (a manifest or a blob
// stored from the upstream) is a push event whose actor is `berth:proxy`, written in the same
// transaction as the cached row (the outbox), beside the pull events of the clients' requests. A
// pull served from the cache adds pull events only. The upstream is another Berth.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventReceiver, type ReceivedEvent } from '../support/event-receiver.js';
import { pushImage } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

describe('pull-through cache: fill events', () => {
  let upstream: TestRegistry;
  let mirror: TestRegistry;
  let receiver: EventReceiver;
  before(async () => {
    receiver = await EventReceiver.start();
    upstream = await startTestRegistry();
    mirror = await startTestRegistry({
      env: {
        REGISTRY_PROXY_REMOTEURL: upstream.url,
        REGISTRY_NOTIFICATIONS_ENDPOINTS: JSON.stringify([{ name: 'all', url: receiver.url, timeout: '2s', backoff: '50ms' }]),
      },
    });
  });
  after(async () => {
    await mirror.stop();
    await upstream.stop();
    await receiver.down();
  });

  const fills = (repository: string): ReceivedEvent[] => receiver.unique().filter((e) => e.action === 'push' && e.target.repository === repository);

  it('a cold pull sends one push event per filled manifest and blob (actor berth:proxy), a warm pull none', async () => {
    const image = await pushImage(upstream.url, 'cache/events', 'v1');
    const pull = async (): Promise<void> => {
      const manifest = await fetch(`${mirror.url}/v2/cache/events/manifests/v1`, { headers: { accept: image.manifest.mediaType } });
      assert.equal(manifest.status, 200);
      assert.equal(manifest.headers.get('docker-content-digest'), image.manifest.digest);
      await manifest.arrayBuffer();
      for (const blob of [image.config, ...image.layers]) {
        const response = await fetch(`${mirror.url}/v2/cache/events/blobs/${blob.digest}`);
        assert.equal(response.status, 200);
        assert.equal(Buffer.from(await response.arrayBuffer()).length, blob.size);
      }
    };
    await pull();
    const blobs = [image.config, ...image.layers];
    await receiver.waitFor('the fill events', () => fills('cache/events').length === 1 + blobs.length);
    const manifest = fills('cache/events').find((e) => e.target.digest === image.manifest.digest);
    assert.ok(manifest !== undefined, 'the manifest fill is reported');
    assert.equal(manifest.target.tag, 'v1');
    assert.equal(manifest.target.mediaType, image.manifest.mediaType);
    assert.equal(manifest.target.size, image.manifest.size);
    assert.equal(manifest.actor.name, 'berth:proxy');
    for (const blob of blobs) {
      const event = fills('cache/events').find((e) => e.target.digest === blob.digest);
      assert.ok(event !== undefined, `the fill of ${blob.digest} is reported`);
      assert.equal(event.target.size, blob.size);
      assert.equal(event.target.mediaType, 'application/octet-stream');
      assert.equal(event.actor.name, 'berth:proxy');
    }
    await pull();
    // The warm pull's own pull events arrive after it; by then any push it caused would have too.
    await receiver.waitFor('the warm pull events', () => receiver.unique().filter((e) => e.action === 'pull' && e.target.repository === 'cache/events' && e.target.tag === 'v1').length === 2);
    assert.equal(fills('cache/events').length, 1 + blobs.length, 'a pull from the cache fills nothing');
  });
});
