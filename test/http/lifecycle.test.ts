// Lifecycle rules over the HTTP API (docs/lifecycle.md): immutable tags (403 DENIED), quotas
// (403 DENIED before bytes are stored where possible), usage (GET /usage), the opt-in
// untagged-manifest policy and retention policies (with dry run), run by the collector.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { artifactManifest, content, freshRepository, imageParts, indexOf, ociManifest, randomContent } from '../support/content.js';
import { assertError } from '../support/error-envelope.js';
import { pullFully } from '../support/pull.js';
import { pushBlob, pushBlobs, pushImage, pushManifest, putManifest } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

async function status(url: string, path: string, method = 'GET'): Promise<number> {
  const response = await fetch(`${url}${path}`, { method });
  await response.arrayBuffer();
  return response.status;
}

describe('tag immutability (lifecycle.immutable)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({
      storage: 'inmemory',
      env: { REGISTRY_LIFECYCLE_IMMUTABLE: JSON.stringify([{ repositories: ['prod/**'], tags: ['v[0-9].*'] }]), REGISTRY_GC_ENABLED: 'false' },
    });
  });
  after(() => registry.stop());

  it('PUT manifest to an immutable tag that names another manifest → 403 DENIED; the tag still names the first', async () => {
    const repository = `prod/${freshRepository('imm')}`;
    const first = await pushImage(registry.url, repository, 'v1.0');
    const other = imageParts('other');
    await pushBlobs(registry.url, repository, [other.config, ...other.layers]);
    const response = await putManifest(registry.url, repository, 'v1.0', ociManifest(other));
    await assertError(response, 403, 'DENIED');
    assert.equal(await pullFully(registry.url, repository, 'v1.0', first.manifest.digest), undefined);
  });

  it('PUT of the same manifest to an immutable tag again → 201 (a re-push is no overwrite)', async () => {
    const repository = `prod/${freshRepository('imm')}`;
    const image = await pushImage(registry.url, repository, 'v2');
    await pushManifest(registry.url, repository, 'v2', image.manifest);
  });

  it('DELETE of an immutable tag, or of the manifest it names → 403 DENIED naming repository, tag and digest', async () => {
    const repository = `prod/${freshRepository('imm')}`;
    const image = await pushImage(registry.url, repository, 'v3');
    for (const reference of ['v3', image.manifest.digest]) {
      const response = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, { method: 'DELETE' });
      const detail = ((await response.clone().json()) as { errors: { detail?: Record<string, unknown> }[] }).errors[0]?.detail;
      assert.deepEqual({ ...detail, current: undefined }, { repository, tag: 'v3', digest: image.manifest.digest, current: undefined, reason: 'TAG_IMMUTABLE' }, reference);
      await assertError(response, 403, 'DENIED');
    }
    assert.equal(await pullFully(registry.url, repository, 'v3', image.manifest.digest), undefined);
  });

  it('tags the patterns do not match, and repositories the globs do not match, move and go freely', async () => {
    const repository = `prod/${freshRepository('imm')}`;
    await pushImage(registry.url, repository, 'latest');
    await pushImage(registry.url, repository, 'latest');
    assert.equal(await status(registry.url, `/v2/${repository}/manifests/latest`, 'DELETE'), 202);
    const elsewhere = freshRepository('free');
    await pushImage(registry.url, elsewhere, 'v1');
    await pushImage(registry.url, elsewhere, 'v1');
    assert.equal(await status(registry.url, `/v2/${elsewhere}/manifests/v1`, 'DELETE'), 202);
  });

  it('two concurrent PUTs of different manifests to a new immutable tag → one 201, one 403', async () => {
    const repository = `prod/${freshRepository('imm')}`;
    const a = imageParts('a');
    const b = imageParts('b');
    await pushBlobs(registry.url, repository, [a.config, ...a.layers, b.config, ...b.layers]);
    const responses = await Promise.all([putManifest(registry.url, repository, 'v9', ociManifest(a)), putManifest(registry.url, repository, 'v9', ociManifest(b))]);
    for (const response of responses) await response.arrayBuffer();
    assert.deepEqual(responses.map((response) => response.status).sort(), [201, 403]);
  });
});

describe('quotas and usage (lifecycle.quotas, GET /usage)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({
      storage: 'inmemory',
      env: {
        REGISTRY_GC_ENABLED: 'false',
        REGISTRY_LIFECYCLE_QUOTAS: JSON.stringify([
          { repositories: ['quota/**'], limit: 5000, per: 'repository' },
          { repositories: ['team/**'], limit: '6000B', per: 'namespace' },
        ]),
      },
    });
  });
  after(() => registry.stop());

  function imageOf(size: number, label: string): { blobs: ReturnType<typeof randomContent>[]; parts: ReturnType<typeof imageParts> } {
    const parts = { config: content(JSON.stringify({ label })), layers: [randomContent(size)] };
    return { blobs: [parts.config, ...parts.layers], parts };
  }

  it('GET /usage/<name> counts the distinct blobs its manifests reference and their payloads', async () => {
    const repository = freshRepository('usage');
    const image = await pushImage(registry.url, repository, 'v1');
    await pushManifest(registry.url, repository, 'v2', image.manifest);
    const response = await fetch(`${registry.url}/usage/${repository}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { repository: { blobBytes: number; manifestBytes: number; blobs: number; manifests: number; tags: number } };
    const expected = [image.config, ...image.layers].reduce((sum, blob) => sum + blob.size, 0);
    assert.equal(body.repository.blobBytes, expected);
    assert.equal(body.repository.blobs, 1 + image.layers.length);
    assert.equal(body.repository.manifests, 1);
    assert.equal(body.repository.manifestBytes, image.manifest.size);
    assert.equal(body.repository.tags, 2);
  });

  it('a blob shared by two repositories counts in each repository, and once in their namespace and the registry', async () => {
    const namespace = `shared${process.pid}`;
    const a = `${namespace}/a`;
    const b = `${namespace}/b`;
    const image = await pushImage(registry.url, a, 'v1');
    await pushBlobs(registry.url, b, [image.config, ...image.layers]);
    await pushManifest(registry.url, b, 'v1', image.manifest);
    const one = (await (await fetch(`${registry.url}/usage/${a}`)).json()) as { repository: { blobBytes: number }; namespace: { blobBytes: number } };
    const blobBytes = [image.config, ...image.layers].reduce((sum, blob) => sum + blob.size, 0);
    assert.equal(one.repository.blobBytes, blobBytes);
    assert.equal(one.namespace.blobBytes, blobBytes);
    const all = (await (await fetch(`${registry.url}/usage`)).json()) as { repositories: { scope: string }[]; namespaces: { scope: string; blobBytes: number }[] };
    assert.ok(all.repositories.some((row) => row.scope === a) && all.repositories.some((row) => row.scope === b));
    assert.equal(all.namespaces.find((row) => row.scope === namespace)?.blobBytes, blobBytes);
  });

  it('GET /usage/<unknown repository> → 404 NAME_UNKNOWN', async () => {
    const response = await fetch(`${registry.url}/usage/${freshRepository('nothing')}`);
    await assertError(response, 404, 'NAME_UNKNOWN');
  });

  it('a manifest PUT that would take a repository over its quota → 403 DENIED; one that fits → 201', async () => {
    const repository = `quota/${freshRepository('q')}`;
    const small = imageOf(2000, 'small');
    await pushBlobs(registry.url, repository, small.blobs);
    await pushManifest(registry.url, repository, 'v1', ociManifest(small.parts));
    const big = imageOf(3500, 'big');
    await pushBlobs(registry.url, repository, big.blobs);
    const response = await putManifest(registry.url, repository, 'v2', ociManifest(big.parts));
    await assertError(response, 403, 'DENIED');
    // The same content again adds nothing: allowed even near the limit.
    await pushManifest(registry.url, repository, 'again', ociManifest(small.parts));
  });

  it('a namespace quota counts every repository of the namespace together', async () => {
    const first = `team/ns-${process.pid}-a`;
    const second = `team/ns-${process.pid}-b`;
    const a = imageOf(3500, 'ns-a');
    await pushBlobs(registry.url, first, a.blobs);
    await pushManifest(registry.url, first, 'v1', ociManifest(a.parts));
    const b = imageOf(3500, 'ns-b');
    await pushBlobs(registry.url, second, b.blobs);
    const response = await putManifest(registry.url, second, 'v1', ociManifest(b.parts));
    await assertError(response, 403, 'DENIED');
  });
});

describe('untagged-manifest policy (lifecycle.untagged)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({
      env: { REGISTRY_GC_ENABLED: 'false', REGISTRY_LIFECYCLE_UNTAGGED: JSON.stringify([{ repositories: ['pruned/**'], olderthan: '0s' }]) },
    });
  });
  after(() => registry.stop());

  it('removes untagged manifests, never a child of a kept index nor a referrer of a kept subject; then GC reclaims them', async () => {
    const repository = `pruned/${freshRepository('untagged')}`;
    const url = registry.url;
    const tagged = await pushImage(url, repository, 'v1');
    const loose = await pushImage(url, repository, undefined, { label: 'loose' });
    const child = await pushImage(url, repository, undefined, { label: 'child' });
    const index = indexOf([child.manifest]);
    await pushManifest(url, repository, 'multi', index);
    const sbom = content(`sbom ${repository}`);
    await pushBlobs(url, repository, [sbom, content('{}')]);
    const referrer = artifactManifest('application/vnd.example.sbom', [sbom], { subject: tagged.manifest });
    await pushManifest(url, repository, referrer.digest, referrer);
    const orphanReferrer = artifactManifest('application/vnd.example.sbom', [sbom], { subject: loose.manifest, annotations: { n: '2' } });
    await pushManifest(url, repository, orphanReferrer.digest, orphanReferrer);
    const elsewhere = freshRepository('not-pruned');
    const keptElsewhere = await pushImage(url, elsewhere, undefined, { label: 'elsewhere' });

    const dry = await registry.app.collectGarbage({ reviewDelayMs: 0, dryRun: true });
    assert.deepEqual(dry.policy.manifests.sort(), [`${repository}@${loose.manifest.digest}`, `${repository}@${orphanReferrer.digest}`].sort());
    assert.equal(await status(url, `/v2/${repository}/manifests/${loose.manifest.digest}`), 200, 'a dry run removes nothing');

    const report = await registry.app.collectGarbage({ reviewDelayMs: 0 });
    assert.deepEqual(report.policy.manifests.sort(), dry.policy.manifests.sort());
    assert.equal(await status(url, `/v2/${repository}/manifests/${loose.manifest.digest}`), 404);
    assert.equal(await status(url, `/v2/${repository}/manifests/${orphanReferrer.digest}`), 404);
    assert.equal(await pullFully(url, repository, 'v1', tagged.manifest.digest), undefined);
    assert.equal(await pullFully(url, repository, 'multi', index.digest), undefined);
    assert.equal(await pullFully(url, repository, referrer.digest, referrer.digest), undefined);
    assert.equal(await pullFully(url, elsewhere, keptElsewhere.manifest.digest, keptElsewhere.manifest.digest), undefined);
    // The removed manifest's rows and layers go in later runs (one review delay each; here 0).
    await registry.app.collectGarbage({ reviewDelayMs: 0 });
    const last = await registry.app.collectGarbage({ reviewDelayMs: 0 });
    void last;
    for (const layer of loose.layers) assert.equal(await status(url, `/v2/${repository}/blobs/${layer.digest}`, 'HEAD'), 404);
  });
});

describe('retention policies (lifecycle.retention)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({
      storage: 'inmemory',
      env: {
        REGISTRY_GC_ENABLED: 'false',
        REGISTRY_LIFECYCLE_RETENTION: JSON.stringify([{ repositories: ['retained/**'], keepnewest: 2, keeptags: ['release-.*'] }]),
        REGISTRY_LIFECYCLE_IMMUTABLE: JSON.stringify([{ repositories: ['retained/**'], tags: ['frozen'] }]),
      },
    });
  });
  after(() => registry.stop());

  it('keeps the newest N and the tags matching a pattern, deletes the rest (dry run first); referrers follow their subject', async () => {
    const repository = `retained/${freshRepository('r')}`;
    const url = registry.url;
    const pushed: Record<string, Awaited<ReturnType<typeof pushImage>>> = {};
    for (const tag of ['a', 'release-1', 'b', 'frozen', 'c', 'd']) {
      pushed[tag] = await pushImage(url, repository, tag, { label: tag });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const subjectOfA = pushed.a?.manifest;
    assert.ok(subjectOfA !== undefined);
    const sig = content(`signature of a ${repository}`);
    await pushBlobs(url, repository, [sig, content('{}')]);
    const referrer = artifactManifest('application/vnd.example.signature', [sig], { subject: subjectOfA });
    await pushManifest(url, repository, referrer.digest, referrer);

    const dry = await registry.app.collectGarbage({ reviewDelayMs: 0, dryRun: true });
    assert.deepEqual(dry.policy.tags.sort(), [`${repository}:a`, `${repository}:b`].sort());
    assert.ok(dry.policy.manifests.includes(`${repository}@${referrer.digest}`), 'the referrer follows its subject');
    assert.equal(await status(url, `/v2/${repository}/manifests/a`), 200, 'a dry run deletes nothing');

    const report = await registry.app.collectGarbage({ reviewDelayMs: 0 });
    assert.deepEqual(report.policy.tags.sort(), dry.policy.tags.sort());
    const tags = ((await (await fetch(`${url}/v2/${repository}/tags/list`)).json()) as { tags: string[] }).tags.sort();
    assert.deepEqual(tags, ['c', 'd', 'frozen', 'release-1']);
    assert.equal(await status(url, `/v2/${repository}/manifests/${referrer.digest}`), 404);
    assert.equal(await status(url, `/v2/${repository}/manifests/${subjectOfA.digest}`), 404);
    for (const tag of tags) assert.equal(await pullFully(url, repository, tag, pushed[tag]?.manifest.digest), undefined);
  });

  it('a blob that another kept image still uses is not collected when retention drops an image', async () => {
    const repository = `retained/${freshRepository('shared')}`;
    const url = registry.url;
    const shared = randomContent(500);
    await pushBlob(url, repository, shared);
    const images: string[] = [];
    for (const tag of ['x', 'y', 'z']) {
      const parts = { config: content(JSON.stringify({ tag })), layers: [shared] };
      await pushBlobs(url, repository, [parts.config]);
      const manifest = ociManifest(parts);
      await pushManifest(url, repository, tag, manifest);
      images.push(manifest.digest);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (let pass = 0; pass < 3; pass++) await registry.app.collectGarbage({ reviewDelayMs: 0 });
    assert.equal(await status(url, `/v2/${repository}/manifests/x`), 404);
    assert.equal(await pullFully(url, repository, 'z', images[2]), undefined);
    assert.equal(await status(url, `/v2/${repository}/blobs/${shared.digest}`), 200);
  });
});

describe('quotas lowered below what is stored', () => {
  it('an upload into a repository whose quota is used up → 403 DENIED before any byte is stored (POST and single-request POST)', async () => {
    const first = await startTestRegistry({ keepData: true, env: { REGISTRY_GC_ENABLED: 'false' } });
    const repository = `quota/${freshRepository('full')}`;
    const dataDir = first.dataDir ?? '';
    try {
      await pushImage(first.url, repository, 'v1');
    } finally {
      await first.stop();
    }
    const second = await startTestRegistry({
      dataDir,
      env: { REGISTRY_GC_ENABLED: 'false', REGISTRY_LIFECYCLE_QUOTAS: JSON.stringify([{ repositories: ['quota/**'], limit: 100 }]) },
    });
    try {
      const start = await fetch(`${second.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
      await assertError(start, 403, 'DENIED');
      const blob = randomContent(10);
      const single = await fetch(`${second.url}/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: new Uint8Array(blob.bytes) });
      await assertError(single, 403, 'DENIED');
      assert.equal(await status(second.url, `/v2/${repository}/blobs/${blob.digest}`, 'HEAD'), 404);
      const usage = (await (await fetch(`${second.url}/usage/${repository}`)).json()) as { quotas: { limitBytes: number }[] };
      assert.deepEqual(usage.quotas.map((quota) => quota.limitBytes), [100]);
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
