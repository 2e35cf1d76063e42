// Online garbage collection over the HTTP API (docs/gc.md): what nothing references goes and its
// bytes leave the disk; tagged images, index children, referrers of kept subjects and blobs shared
// with other repositories stay; orphaned bytes are swept; a dry run removes nothing.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { artifactManifest, bodyOf, content, freshRepository, indexOf, randomContent, type Content } from '../support/content.js';
import { pullFully } from '../support/pull.js';
import { pushBlob, pushBlobs, pushImage, pushManifest } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

function blobFile(dataDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return join(dataDir, 'blobs', algorithm, hex.slice(0, 2), hex);
}

async function status(url: string, path: string, method = 'GET'): Promise<number> {
  const response = await fetch(`${url}${path}`, { method });
  await response.arrayBuffer();
  return response.status;
}

describe('online garbage collection', () => {
  let registry: TestRegistry;
  let url: string;
  let dataDir: string;
  before(async () => {
    registry = await startTestRegistry({ env: { REGISTRY_GC_ENABLED: 'false' } });
    url = registry.url;
    dataDir = registry.dataDir ?? '';
  });
  after(() => registry.stop());

  const collectNow = (): ReturnType<TestRegistry['app']['collectGarbage']> => registry.app.collectGarbage({ reviewDelayMs: 0 });

  it('pushed blob bytes live at blobs/<algorithm>/<2 hex>/<hex> under the root directory', async () => {
    const repository = freshRepository('layout');
    const blob = randomContent(100);
    await pushBlob(url, repository, blob);
    assert.ok(existsSync(blobFile(dataDir, blob.digest)));
  });

  it('DELETE manifest, then GC: the manifest, its config and layers are gone and their bytes leave the disk', async () => {
    const repository = freshRepository('deleted');
    const image = await pushImage(url, repository, 'v1');
    assert.equal(await status(url, `/v2/${repository}/manifests/${image.manifest.digest}`, 'DELETE'), 202);
    const report = await collectNow();
    assert.ok(report.collectedManifests.includes(image.manifest.digest));
    for (const blob of [image.config, ...image.layers]) {
      assert.ok(report.collectedBlobs.includes(blob.digest), `blob ${blob.digest} collected`);
      assert.equal(existsSync(blobFile(dataDir, blob.digest)), false, 'bytes gone from disk');
      assert.equal(await status(url, `/v2/${repository}/blobs/${blob.digest}`, 'HEAD'), 404);
    }
    assert.ok(report.bytesReclaimed >= image.layers.reduce((sum, layer) => sum + layer.size, 0));
  });

  it('a review delay protects candidates younger than it', async () => {
    const repository = freshRepository('delay');
    const image = await pushImage(url, repository, 'v1');
    assert.equal(await status(url, `/v2/${repository}/manifests/${image.manifest.digest}`, 'DELETE'), 202);
    const report = await registry.app.collectGarbage({ reviewDelayMs: 3600_000 });
    assert.ok(!report.collectedManifests.includes(image.manifest.digest));
    for (const blob of image.layers) assert.ok(existsSync(blobFile(dataDir, blob.digest)));
  });

  it('GC keeps tagged images, untagged manifests (kept by default) and every child of a tagged index', async () => {
    const repository = freshRepository('multiarch');
    const amd = await pushImage(url, repository, undefined, { label: 'amd64' });
    const arm = await pushImage(url, repository, undefined, { label: 'arm64' });
    const index = indexOf([amd.manifest, arm.manifest]);
    await pushManifest(url, repository, 'multi', index);
    const untagged = await pushImage(url, repository, undefined, { label: 'loose' });
    const tagged = await pushImage(url, repository, 'plain');
    await collectNow();
    assert.equal(await pullFully(url, repository, 'multi', index.digest), undefined);
    assert.equal(await pullFully(url, repository, untagged.manifest.digest, untagged.manifest.digest), undefined);
    assert.equal(await pullFully(url, repository, 'plain', tagged.manifest.digest), undefined);
  });

  it('GC keeps a child of a kept index even when the child was deleted from the repository by digest', async () => {
    const repository = freshRepository('child-deleted');
    const child = await pushImage(url, repository, undefined, { label: 'child' });
    const index = indexOf([child.manifest]);
    await pushManifest(url, repository, 'multi', index);
    assert.equal(await status(url, `/v2/${repository}/manifests/${child.manifest.digest}`, 'DELETE'), 202);
    const report = await collectNow();
    assert.ok(!report.collectedManifests.includes(child.manifest.digest));
    for (const blob of [child.config, ...child.layers]) assert.ok(existsSync(blobFile(dataDir, blob.digest)));
  });

  it('GC keeps referrers of a kept subject, and their blobs', async () => {
    const repository = freshRepository('referrers');
    const subject = await pushImage(url, repository, 'v1');
    const sbom = content(`sbom of ${subject.manifest.digest}`);
    await pushBlobs(url, repository, [sbom, content('{}')]);
    const referrer = artifactManifest('application/vnd.example.sbom', [sbom], { subject: subject.manifest });
    await pushManifest(url, repository, referrer.digest, referrer);
    await collectNow();
    assert.equal(await pullFully(url, repository, referrer.digest, referrer.digest), undefined);
    const listed = await fetch(`${url}/v2/${repository}/referrers/${subject.manifest.digest}`);
    const body = (await listed.json()) as { manifests: { digest: string }[] };
    assert.deepEqual(body.manifests.map((m) => m.digest), [referrer.digest]);
  });

  it('a blob shared with another repository survives the deletion in one, and goes after the deletion in both', async () => {
    const a = freshRepository('shared-a');
    const b = freshRepository('shared-b');
    const image = await pushImage(url, a, 'v1');
    for (const blob of [image.config, ...image.layers]) {
      assert.equal(await status(url, `/v2/${b}/blobs/uploads/?mount=${blob.digest}&from=${a}`, 'POST'), 201);
    }
    await pushManifest(url, b, 'v1', image.manifest);
    assert.equal(await status(url, `/v2/${a}/manifests/${image.manifest.digest}`, 'DELETE'), 202);
    await collectNow();
    assert.equal(await pullFully(url, b, 'v1', image.manifest.digest), undefined);
    for (const blob of image.layers) assert.ok(existsSync(blobFile(dataDir, blob.digest)));
    assert.equal(await status(url, `/v2/${b}/manifests/${image.manifest.digest}`, 'DELETE'), 202);
    await collectNow();
    for (const blob of image.layers) assert.equal(existsSync(blobFile(dataDir, blob.digest)), false);
  });

  it('an uploaded blob that no manifest references is collected (an abandoned push); pushed again, it is stored anew', async () => {
    const repository = freshRepository('abandoned');
    const blob = randomContent(2048);
    await pushBlob(url, repository, blob);
    const report = await collectNow();
    assert.ok(report.collectedBlobs.includes(blob.digest));
    assert.equal(existsSync(blobFile(dataDir, blob.digest)), false);
    await pushBlob(url, repository, blob);
    assert.ok(existsSync(blobFile(dataDir, blob.digest)));
    assert.equal(await status(url, `/v2/${repository}/blobs/${blob.digest}`, 'GET'), 200);
  });

  for (const pause of [0, 30, 120]) {
    it(`a push of a blob whose bytes GC is deleting (push ${pause} ms into the deletion) ends consistent: stored and served, or refused with nothing recorded`, async () => {
      const repository = freshRepository('push-during-gc');
      const blob = randomContent(4096);
      await pushBlob(url, repository, blob);
      let push: Promise<number> | undefined;
      await registry.app.collectGarbage({
        reviewDelayMs: 0,
        sweepOrphans: false,
        onProgress: async (phase) => {
          if (phase !== 'bytes' || push !== undefined) return;
          push = fetch(`${url}/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: bodyOf(blob.bytes) }).then(async (response) => {
            await response.arrayBuffer();
            return response.status;
          });
          await new Promise((resolve) => setTimeout(resolve, pause));
        },
      });
      assert.ok(push !== undefined, 'the collector reached the byte deletion');
      const pushed = await push;
      if (process.env.BERTH_GC_VERBOSE !== undefined) process.stderr.write(`push during deletion (${pause} ms): ${pushed}\n`);
      const head = await status(url, `/v2/${repository}/blobs/${blob.digest}`, 'HEAD');
      if (pushed === 201) {
        assert.equal(head, 200);
        assert.ok(existsSync(blobFile(dataDir, blob.digest)), 'an acknowledged blob has its bytes');
        assert.equal(await status(url, `/v2/${repository}/blobs/${blob.digest}`), 200);
      } else {
        assert.equal(pushed, 404, 'refused as BLOB_UPLOAD_UNKNOWN: the client uploads again');
        assert.equal(head, 404, 'nothing recorded over missing bytes');
        await pushBlob(url, repository, blob);
        assert.ok(existsSync(blobFile(dataDir, blob.digest)));
      }
    });
  }

  it('a dry run reports what would go and removes nothing', async () => {
    const repository = freshRepository('dry');
    const image = await pushImage(url, repository, 'v1');
    assert.equal(await status(url, `/v2/${repository}/manifests/${image.manifest.digest}`, 'DELETE'), 202);
    const report = await registry.app.collectGarbage({ reviewDelayMs: 0, dryRun: true });
    assert.equal(report.dryRun, true);
    assert.ok(report.collectedManifests.includes(image.manifest.digest));
    for (const blob of image.layers) assert.ok(existsSync(blobFile(dataDir, blob.digest)));
    const real = await collectNow();
    assert.ok(real.collectedManifests.includes(image.manifest.digest));
  });

  it('orphaned bytes (no metadata) older than the delay are swept; younger ones stay', async () => {
    const old: Content = randomContent(300);
    const young: Content = randomContent(300);
    for (const blob of [old, young]) {
      const file = blobFile(dataDir, blob.digest);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, blob.bytes);
    }
    const past = new Date(Date.now() - 2 * 3600_000);
    utimesSync(blobFile(dataDir, old.digest), past, past);
    const report = await registry.app.collectGarbage({ reviewDelayMs: 3600_000 });
    assert.ok(report.orphans >= 1);
    assert.equal(existsSync(blobFile(dataDir, old.digest)), false);
    assert.ok(existsSync(blobFile(dataDir, young.digest)));
  });
});

describe('the background collector', () => {
  it('runs in the server every gc.interval and reclaims what was deleted', async () => {
    const registry = await startTestRegistry({ env: { REGISTRY_GC_INTERVAL: '100ms', REGISTRY_GC_REVIEWDELAY: '0s' } });
    try {
      const repository = freshRepository('background');
      const image = await pushImage(registry.url, repository, 'v1');
      assert.equal(await status(registry.url, `/v2/${repository}/manifests/v1`, 'DELETE'), 202);
      assert.equal(await status(registry.url, `/v2/${repository}/manifests/${image.manifest.digest}`, 'DELETE'), 202);
      const file = blobFile(registry.dataDir ?? '', image.layers[0]?.digest ?? '');
      const deadline = Date.now() + 60_000;
      while (existsSync(file) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(existsSync(file), false);
    } finally {
      await registry.stop();
    }
  });
});
