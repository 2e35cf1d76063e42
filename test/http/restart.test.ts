// Filesystem storage survives a restart: pushed content is served by a new app on the same data
// directory, and an upload begun before the restart completes after it (the running hash is rebuilt).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { bodyOf, EMPTY_CONFIG, artifactManifest, freshRepository, randomContent } from '../support/content.js';
import { pushBlob, pushImage, pushManifest, startUpload, withDigest } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

describe('restart with filesystem storage', () => {
  const cleanup: string[] = [];
  after(() => {
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
  });

  async function restart(previous: TestRegistry): Promise<TestRegistry> {
    await previous.stop();
    return startTestRegistry({ storage: 'filesystem', dataDir: previous.dataDir ?? '' });
  }

  it('manifests, tags, blobs, catalog and referrers pushed before a restart are served after it', async () => {
    let registry = await startTestRegistry({ storage: 'filesystem', keepData: true });
    cleanup.push(registry.dataDir ?? '');
    const repository = freshRepository('restart');
    const image = await pushImage(registry.url, repository, 'v1');
    await pushBlob(registry.url, repository, EMPTY_CONFIG);
    const referrer = artifactManifest('application/vnd.example.sig', [], { subject: image.manifest });
    await pushManifest(registry.url, repository, referrer.digest, referrer);
    registry = await restart(registry);
    try {
      const manifest = await fetch(`${registry.url}/v2/${repository}/manifests/v1`);
      assert.equal(manifest.status, 200);
      assert.ok(Buffer.from(await manifest.arrayBuffer()).equals(image.manifest.bytes));
      for (const blob of [image.config, ...image.layers]) {
        const response = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
        assert.ok(Buffer.from(await response.arrayBuffer()).equals(blob.bytes));
      }
      assert.deepEqual(((await (await fetch(`${registry.url}/v2/${repository}/tags/list`)).json()) as { tags: string[] }).tags, ['v1']);
      assert.ok(((await (await fetch(`${registry.url}/v2/_catalog`)).json()) as { repositories: string[] }).repositories.includes(repository));
      const referrers = (await (await fetch(`${registry.url}/v2/${repository}/referrers/${image.manifest.digest}`)).json()) as { manifests: Array<{ digest: string }> };
      assert.deepEqual(referrers.manifests.map((descriptor) => descriptor.digest), [referrer.digest]);
    } finally {
      await registry.stop();
    }
  });

  it('an upload begun before the restart is completed after it (PATCH before, PATCH + PUT after)', async () => {
    let registry = await startTestRegistry({ storage: 'filesystem', keepData: true });
    cleanup.push(registry.dataDir ?? '');
    const repository = freshRepository('resume');
    const blob = randomContent(300_000);
    const location = await startUpload(registry.url, repository);
    const first = await fetch(location, { method: 'PATCH', headers: { 'Content-Range': '0-99999' }, body: bodyOf(blob.bytes.subarray(0, 100_000)) });
    await first.arrayBuffer();
    assert.equal(first.status, 202);
    const path = new URL(location).pathname;
    registry = await restart(registry);
    try {
      const resumed = `${registry.url}${path}`;
      const status = await fetch(resumed);
      await status.arrayBuffer();
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-99999');
      const second = await fetch(resumed, { method: 'PATCH', headers: { 'Content-Range': `100000-${blob.size - 1}` }, body: bodyOf(blob.bytes.subarray(100_000)) });
      await second.arrayBuffer();
      assert.equal(second.status, 202);
      const done = await fetch(withDigest(resumed, blob.digest), { method: 'PUT' });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      const served = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
      assert.ok(Buffer.from(await served.arrayBuffer()).equals(blob.bytes));
    } finally {
      await registry.stop();
    }
  });

  it('an upload begun before the restart is completed by a single PUT with the rest of the body', async () => {
    let registry = await startTestRegistry({ storage: 'filesystem', keepData: true });
    cleanup.push(registry.dataDir ?? '');
    const repository = freshRepository('resume-put');
    const blob = randomContent(50_000);
    const location = await startUpload(registry.url, repository);
    await (await fetch(location, { method: 'PATCH', body: bodyOf(blob.bytes.subarray(0, 20_000)) })).arrayBuffer();
    const path = new URL(location).pathname;
    registry = await restart(registry);
    try {
      const done = await fetch(withDigest(`${registry.url}${path}`, blob.digest), { method: 'PUT', body: bodyOf(blob.bytes.subarray(20_000)) });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      const served = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
      assert.ok(Buffer.from(await served.arrayBuffer()).equals(blob.bytes));
    } finally {
      await registry.stop();
    }
  });
});
