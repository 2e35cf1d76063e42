// A proxied tag confirmed by its upstream stays fresh for the TTL in the metadata store, not only in
// the process: after a restart (and in every other worker or instance on the same store) a pull by
// tag within the TTL asks the upstream nothing. The upstream is another Berth behind a proxy that
// counts requests; the mirror restarts on the same data directory.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { SharedStateStore } from '../../src/metadata/shared-state.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { pushImage, type PushedImage } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

describe('pull-through cache: tag confirmations outlive the process', () => {
  let upstream: TestRegistry;
  let counter: FaultProxy;
  let image: PushedImage;
  let dataDir = '';
  const tagPath = '/v2/cache/app/manifests/v1';
  const mirrorEnv = (): Record<string, string> => ({ REGISTRY_PROXY_REMOTEURL: counter.url, REGISTRY_PROXY_TTL: '1h' });
  const pull = async (mirror: TestRegistry): Promise<string | null> => {
    const response = await fetch(`${mirror.url}${tagPath}`, { headers: { Accept: image.manifest.mediaType } });
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    return response.headers.get('docker-content-digest');
  };

  before(async () => {
    upstream = await startTestRegistry();
    image = await pushImage(upstream.url, 'cache/app', 'v1');
    counter = await FaultProxy.start(upstream.url);
  });
  after(async () => {
    await counter.stop();
    await upstream.stop();
    if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
  });

  it('within the TTL, a restarted mirror serves the cached tag without a HEAD to the upstream', async () => {
    const first = await startTestRegistry({ keepData: true, env: mirrorEnv() });
    dataDir = first.dataDir ?? '';
    assert.equal(await pull(first), image.manifest.digest);
    await first.stop();
    assert.equal(counter.count('GET', tagPath), 1, 'the cold pull fetched the manifest once');

    const second = await startTestRegistry({ dataDir, env: mirrorEnv() });
    try {
      assert.equal(await pull(second), image.manifest.digest);
      assert.equal(counter.count('HEAD', tagPath), 0, 'no revalidation within the TTL after a restart');
      assert.equal(counter.count('GET', tagPath), 1, 'nor a second fetch');
    } finally {
      await second.stop();
    }
  });

  it('a confirmation of another digest confirms nothing: the tag is revalidated', async () => {
    const mirror = await startTestRegistry({ dataDir, env: mirrorEnv() });
    try {
      // The SQLite store is the shared-state store too.
      const store = mirror.app.registry.metadata as unknown as SharedStateStore;
      await store.confirmUpstreamTag('cache/app', 'v1', `sha256:${'0'.repeat(64)}`, Date.now());
      assert.equal(await pull(mirror), image.manifest.digest);
      assert.equal(counter.count('HEAD', tagPath), 1, 'revalidated with a HEAD');
      assert.equal(counter.count('GET', tagPath), 1, 'same digest upstream: not fetched again');
    } finally {
      await mirror.stop();
    }
  });
});
