// Eviction of the pull-through cache by the collector (docs/proxy.md, "Eviction"): by age
// (`unusedfor`, counted from the last pull, GET or HEAD) and by size (`maxsize`, least recently
// pulled first), with a delete event (actor berth:proxy) per evicted manifest; what is evicted is
// fetched from the upstream again on the next pull. The upstream is another Berth behind a proxy
// that counts its requests.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventReceiver } from '../support/event-receiver.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { pushImage, type PushedImage } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

describe('pull-through cache: eviction', () => {
  let upstream: TestRegistry;
  let counter: FaultProxy;
  let receiver: EventReceiver;
  before(async () => {
    upstream = await startTestRegistry();
    counter = await FaultProxy.start(upstream.url);
    receiver = await EventReceiver.start();
  });
  after(async () => {
    await counter.stop();
    await upstream.stop();
    await receiver.down();
  });

  const pull = async (mirror: TestRegistry, repository: string, image: PushedImage, method = 'GET'): Promise<void> => {
    const response = await fetch(`${mirror.url}/v2/${repository}/manifests/v1`, { method, headers: { accept: image.manifest.mediaType } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-content-digest'), image.manifest.digest);
    await response.arrayBuffer();
  };
  const pullImage = async (mirror: TestRegistry, repository: string, image: PushedImage): Promise<void> => {
    await pull(mirror, repository, image);
    for (const blob of [image.config, ...image.layers]) assert.equal((await fetch(`${mirror.url}/v2/${repository}/blobs/${blob.digest}`).then((r) => r.arrayBuffer())).byteLength, blob.size);
  };
  const upstreamGets = (repository: string): number => counter.count('GET', `/v2/${repository}/manifests/v1`);

  it('unusedfor: what no client pulled (GET or HEAD) within it is evicted, with a delete event; the next pull asks the upstream again', async () => {
    const mirror = await startTestRegistry({
      env: {
        REGISTRY_PROXY_REMOTEURL: counter.url,
        REGISTRY_PROXY_UNUSEDFOR: '3s',
        REGISTRY_NOTIFICATIONS_ENDPOINTS: JSON.stringify([{ name: 'all', url: receiver.url, timeout: '2s', backoff: '50ms' }]),
      },
    });
    try {
      const stale = await pushImage(upstream.url, 'evict/stale', 'v1');
      const used = await pushImage(upstream.url, 'evict/used', 'v1');
      await pullImage(mirror, 'evict/stale', stale);
      await pullImage(mirror, 'evict/used', used);
      await sleep(4_000);
      await pull(mirror, 'evict/used', used, 'HEAD'); // a HEAD is a use too
      const report = await mirror.app.collectGarbage({ reviewDelayMs: 0 });
      assert.deepEqual(report.evicted.manifests, [`evict/stale@${stale.manifest.digest}`]);
      assert.ok(report.collectedManifests.includes(stale.manifest.digest), 'with no review delay, the evicted manifest row is collected in the same run');
      for (const blob of [stale.config, ...stale.layers]) assert.ok(report.collectedBlobs.includes(blob.digest), `and its blob ${blob.digest}`);
      await receiver.waitFor('the eviction event', () => receiver.unique().some((e) => e.action === 'delete' && e.target.repository === 'evict/stale' && e.target.digest === stale.manifest.digest && e.actor.name === 'berth:proxy'));
      const before = upstreamGets('evict/used');
      await pull(mirror, 'evict/used', used);
      assert.equal(upstreamGets('evict/used'), before, 'the used image is still cached');
      const gets = upstreamGets('evict/stale');
      await pull(mirror, 'evict/stale', stale);
      assert.equal(upstreamGets('evict/stale'), gets + 1, 'the evicted image is fetched again');
    } finally {
      await mirror.stop();
    }
  });

  it('maxsize: the least recently pulled go first until the cache fits', async () => {
    const first = await pushImage(upstream.url, 'size/first', 'v1');
    const second = await pushImage(upstream.url, 'size/second', 'v1');
    const bytes = (image: PushedImage): number => image.manifest.size + [image.config, ...image.layers].reduce((sum, blob) => sum + blob.size, 0);
    // Room for either image, not both.
    const mirror = await startTestRegistry({ env: { REGISTRY_PROXY_REMOTEURL: counter.url, REGISTRY_PROXY_MAXSIZE: String(bytes(first) + bytes(second) - 1) } });
    try {
      await pullImage(mirror, 'size/first', first);
      await pullImage(mirror, 'size/second', second);
      await sleep(20); // the pull below is later than the second image's caching
      await pull(mirror, 'size/first', first);
      const report = await mirror.app.collectGarbage({ reviewDelayMs: 3600_000 });
      assert.deepEqual(report.evicted.manifests, [`size/second@${second.manifest.digest}`], 'the second image was pulled less recently');
      const usage = (await fetch(`${mirror.url}/usage`).then((r) => r.json())) as { registry: { blobBytes: number; manifestBytes: number } };
      assert.equal(usage.registry.blobBytes + usage.registry.manifestBytes, bytes(first), 'what is left is the first image');
      assert.equal((await mirror.app.collectGarbage({ reviewDelayMs: 3600_000 })).evicted.count, 0, 'it fits: nothing more goes');
      // `berth usage` against the same store shows the cache of the upstream, with its limit.
      const env = { ...process.env, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: mirror.dataDir ?? '', REGISTRY_PROXY_REMOTEURL: counter.url, REGISTRY_PROXY_MAXSIZE: String(bytes(first) + bytes(second) - 1) };
      const { stdout } = await run(process.execPath, [CLI, 'usage', '--json'], { env });
      const caches = (JSON.parse(stdout) as { caches: { upstream: string; prefix: string; maxBytes: number; usage: { blobBytes: number; manifestBytes: number } }[] }).caches;
      assert.deepEqual(caches.map((c) => [c.upstream, c.prefix, c.maxBytes, c.usage.blobBytes + c.usage.manifestBytes]), [[counter.url, '', bytes(first) + bytes(second) - 1, bytes(first)]]);
    } finally {
      await mirror.stop();
    }
  });
});
