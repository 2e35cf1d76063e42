// Webhook notifications as distribution sends them: the envelope, its media type and headers,
// every action (push, pull, mount, delete), the ignore rules, and events of garbage collection
// and retention. The crash and outage test is test/crash/notifications-kill-9.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventReceiver, type ReceivedEvent } from '../support/event-receiver.js';
import { pushBlob, pushImage } from '../support/push.js';
import { randomContent } from '../support/content.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

describe('notifications: envelope and actions', () => {
  let receiver: EventReceiver;
  let quiet: EventReceiver;
  let registry: TestRegistry;
  before(async () => {
    receiver = await EventReceiver.start();
    quiet = await EventReceiver.start();
    const endpoints = [
      { name: 'all', url: receiver.url, headers: { Authorization: ['Bearer secret-token'] }, timeout: '2s', threshold: 3, backoff: '50ms' },
      { name: 'pushes-only', url: quiet.url, ignore: { actions: ['pull', 'delete'], mediatypes: ['application/octet-stream'] } },
      { name: 'off', url: 'http://127.0.0.1:9/never', disabled: true },
    ];
    registry = await startTestRegistry({
      env: {
        REGISTRY_NOTIFICATIONS_ENDPOINTS: JSON.stringify(endpoints),
        REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES: 'true',
        REGISTRY_LIFECYCLE_RETENTION: JSON.stringify([{ repositories: ['notify/retained'], keepnewest: 1 }]),
      },
    });
  });
  after(async () => {
    await registry.stop();
    await receiver.down();
    await quiet.down();
  });

  const find = (predicate: (event: ReceivedEvent) => boolean): ReceivedEvent | undefined => receiver.unique().find(predicate);
  const waitEvent = async (what: string, predicate: (event: ReceivedEvent) => boolean): Promise<ReceivedEvent> => {
    await receiver.waitFor(what, () => find(predicate) !== undefined);
    return find(predicate) as ReceivedEvent;
  };

  it('a push sends blob and manifest push events in distribution\'s envelope, media type and configured headers', async () => {
    const image = await pushImage(registry.url, 'notify/app', 'v1');
    const manifest = await waitEvent('manifest push', (e) => e.action === 'push' && e.target.repository === 'notify/app' && e.target.tag === 'v1');
    assert.equal(manifest.target.digest, image.manifest.digest);
    assert.equal(manifest.target.mediaType, image.manifest.mediaType);
    assert.equal(manifest.target.size, image.manifest.size);
    assert.equal(manifest.target.length, image.manifest.size);
    assert.equal(manifest.target.url, `${registry.url}/v2/notify/app/manifests/${image.manifest.digest}`);
    assert.deepEqual(manifest.target.references?.map((r) => r.digest), [image.config.digest, ...image.layers.map((l) => l.digest)]);
    assert.equal(manifest.request.method, 'PUT');
    assert.equal(manifest.request.host, new URL(registry.url).host);
    assert.match(manifest.request.addr ?? '', /^127\.0\.0\.1:\d+$/);
    assert.match(manifest.id, /^[0-9a-f-]{36}$/);
    assert.ok(Math.abs(Date.parse(manifest.timestamp) - Date.now()) < 60_000);
    assert.match(manifest.source.instanceID ?? '', /^[0-9a-f-]{36}$/);
    const layer = await waitEvent('blob push', (e) => e.action === 'push' && e.target.digest === image.layers[0]?.digest);
    assert.equal(layer.target.mediaType, 'application/octet-stream');
    assert.equal(layer.target.url, `${registry.url}/v2/notify/app/blobs/${image.layers[0]?.digest ?? ''}`);
    const headers = receiver.headers[0];
    assert.equal(headers?.['content-type'], 'application/vnd.docker.distribution.events.v1+json');
    assert.equal(headers?.authorization, 'Bearer secret-token');
  });

  it('GET manifest and GET blob send pull events (HEAD does not); a mount sends mount with fromRepository', async () => {
    const image = await pushImage(registry.url, 'notify/pulled', 'v1');
    await (await fetch(`${registry.url}/v2/notify/pulled/manifests/v1`, { method: 'HEAD' })).arrayBuffer();
    await (await fetch(`${registry.url}/v2/notify/pulled/manifests/v1`, { headers: { Accept: image.manifest.mediaType, 'User-Agent': 'pull-test/1' } })).arrayBuffer();
    await (await fetch(`${registry.url}/v2/notify/pulled/blobs/${image.config.digest}`)).arrayBuffer();
    const pull = await waitEvent('manifest pull', (e) => e.action === 'pull' && e.target.repository === 'notify/pulled' && e.target.tag === 'v1');
    assert.equal(pull.request.useragent, 'pull-test/1');
    assert.equal(pull.request.method, 'GET');
    await waitEvent('blob pull', (e) => e.action === 'pull' && e.target.digest === image.config.digest);
    const mounted = await fetch(`${registry.url}/v2/notify/mounted/blobs/uploads/?mount=${image.config.digest}&from=notify/pulled`, { method: 'POST' });
    assert.equal(mounted.status, 201);
    const mount = await waitEvent('mount', (e) => e.action === 'mount' && e.target.repository === 'notify/mounted');
    assert.equal(mount.target.fromRepository, 'notify/pulled');
    assert.equal(receiver.unique().filter((e) => e.action === 'pull' && e.target.repository === 'notify/pulled' && e.target.tag === 'v1').length, 1, 'HEAD sent no pull');
  });

  it('deletes of a tag, a manifest and a blob send delete events with the repository and the tag or digest only', async () => {
    const image = await pushImage(registry.url, 'notify/deleted', 'v1');
    await (await fetch(`${registry.url}/v2/notify/deleted/manifests/v1`, { method: 'DELETE' })).arrayBuffer();
    await (await fetch(`${registry.url}/v2/notify/deleted/manifests/${image.manifest.digest}`, { method: 'DELETE' })).arrayBuffer();
    await (await fetch(`${registry.url}/v2/notify/deleted/blobs/${image.config.digest}`, { method: 'DELETE' })).arrayBuffer();
    const tag = await waitEvent('tag delete', (e) => e.action === 'delete' && e.target.repository === 'notify/deleted' && e.target.tag === 'v1');
    assert.deepEqual(tag.target, { repository: 'notify/deleted', tag: 'v1' });
    const manifest = await waitEvent('manifest delete', (e) => e.action === 'delete' && e.target.digest === image.manifest.digest);
    assert.deepEqual(manifest.target, { repository: 'notify/deleted', digest: image.manifest.digest });
    await waitEvent('blob delete', (e) => e.action === 'delete' && e.target.digest === image.config.digest);
  });

  it('garbage collection and retention report what they remove, with a berth: actor', async () => {
    const blob = randomContent(100);
    await pushBlob(registry.url, 'notify/garbage', blob);
    await pushImage(registry.url, 'notify/retained', 'old');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await pushImage(registry.url, 'notify/retained', 'new');
    await registry.app.collectGarbage({ reviewDelayMs: 0 });
    const gc = await waitEvent('gc blob delete', (e) => e.action === 'delete' && e.target.digest === blob.digest);
    assert.equal(gc.actor.name, 'berth:gc');
    assert.equal(gc.target.repository, 'notify/garbage');
    const retention = await waitEvent('retention tag delete', (e) => e.action === 'delete' && e.target.repository === 'notify/retained' && e.target.tag === 'old');
    assert.equal(retention.actor.name, 'berth:retention');
  });

  it('an endpoint ignoring actions and media types gets only the rest; a disabled endpoint nothing', async () => {
    await receiver.waitFor('the quiet endpoint caught up', () => quiet.unique().some((e) => e.target.repository === 'notify/retained'));
    const seen = quiet.unique();
    assert.ok(seen.length > 0);
    for (const event of seen) {
      assert.notEqual(event.action, 'pull');
      assert.notEqual(event.action, 'delete');
      assert.notEqual(event.target.mediaType, 'application/octet-stream');
    }
    const text = await (await fetch(`${registry.url}/metrics`)).text();
    assert.match(text, /^registry_notifications_events_total\{type="Successes",endpoint="all"\} [1-9]/m);
    assert.match(text, /^registry_notifications_pending_total\{endpoint="all"\} \d+$/m);
    assert.doesNotMatch(text, /endpoint="off"/);
  });
});
