// storage.maintenance.readonly (writes → 405 UNSUPPORTED, reads OK) and validation.manifests.maxsize (→ 413).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bodyOf, content, freshRepository, imageParts, manifestBody, MediaTypes, ociManifest } from '../support/content.js';
import { assertError, assertRawError } from '../support/error-envelope.js';
import { pushBlobs, pushImage, putManifest } from '../support/push.js';
import { rawRequest } from '../support/raw-http.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

describe('read-only mode (storage.maintenance.readonly.enabled: true)', () => {
  let dataDir: string;
  let registry: TestRegistry;
  let repository: string;
  let manifestDigest: string;
  let blobDigest: string;

  before(async () => {
    const writable = await startTestRegistry({ storage: 'filesystem', keepData: true });
    repository = freshRepository('readonly');
    const image = await pushImage(writable.url, repository, 'latest');
    manifestDigest = image.manifest.digest;
    blobDigest = image.config.digest;
    await writable.stop();
    dataDir = writable.dataDir ?? '';
    registry = await startTestRegistry({ storage: 'filesystem', dataDir, env: { REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED: 'true' } });
  });
  after(async () => {
    await registry.stop();
    const { rmSync } = await import('node:fs');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('reads are served: GET /v2/, manifest, blob, tags list, catalog, referrers', async () => {
    for (const path of ['/v2/', `/v2/${repository}/manifests/latest`, `/v2/${repository}/blobs/${blobDigest}`, `/v2/${repository}/tags/list`, '/v2/_catalog', `/v2/${repository}/referrers/${manifestDigest}`]) {
      const response = await fetch(`${registry.url}${path}`);
      await response.arrayBuffer();
      assert.equal(response.status, 200, path);
    }
    const head = await fetch(`${registry.url}/v2/${repository}/manifests/latest`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  for (const [method, path] of [
    ['POST', 'blobs/uploads/'],
    ['POST', `blobs/uploads/?digest=${content('x').digest}`],
    ['PATCH', 'blobs/uploads/00000000-0000-4000-8000-000000000000'],
    ['PUT', 'blobs/uploads/00000000-0000-4000-8000-000000000000?digest=' + content('x').digest],
    ['DELETE', 'blobs/uploads/00000000-0000-4000-8000-000000000000'],
    ['PUT', 'manifests/latest'],
    ['DELETE', 'manifests/latest'],
    ['DELETE', `blobs/${content('x').digest}`],
  ] as const) {
    it(`${method} ${path.split('?')[0] ?? ''} → 405 UNSUPPORTED`, async () => {
      const response = await fetch(`${registry.url}/v2/${repository}/${path}`, { method, ...(method === 'DELETE' ? {} : { body: 'x' }) });
      await assertError(response, 405, 'UNSUPPORTED');
    });
  }

  it('the data is unchanged after refused writes', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/manifests/latest`);
    await response.arrayBuffer();
    assert.equal(response.headers.get('docker-content-digest'), manifestDigest);
  });
});

describe('manifest size limit (validation.manifests.maxsize: 1000)', () => {
  let registry: TestRegistry;
  let repository: string;
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_VALIDATION_MANIFESTS_MAXSIZE: '1000' } });
    repository = freshRepository('limits');
  });
  after(async () => {
    await registry.stop();
  });

  function bigManifest(size: number): Buffer {
    const base = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: content('c').digest, size: 1 }, layers: [], annotations: { pad: '' } };
    const padding = size - Buffer.byteLength(JSON.stringify(base));
    return Buffer.from(JSON.stringify({ ...base, annotations: { pad: 'x'.repeat(padding) } }));
  }

  it('PUT manifest over the cap with Content-Length → 413', async () => {
    const body = bigManifest(5000);
    const response = await rawRequest(registry.url, { method: 'PUT', path: `/v2/${repository}/manifests/big`, headers: { 'Content-Type': MediaTypes.ociManifest }, body });
    assertRawError(response, 413, 'MANIFEST_INVALID');
  });

  it('PUT manifest over the cap with chunked transfer coding (no Content-Length) → 413', async () => {
    const body = bigManifest(5000);
    const response = await rawRequest(registry.url, {
      method: 'PUT',
      path: `/v2/${repository}/manifests/big`,
      headers: { 'Content-Type': MediaTypes.ociManifest },
      body: [body.subarray(0, 800), body.subarray(800, 1600), body.subarray(1600)],
    });
    assertRawError(response, 413, 'MANIFEST_INVALID');
  });

  it('PUT manifest far over the cap (4 MiB) with Content-Length → 413, the response arrives whole', async () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
    const response = await rawRequest(registry.url, { method: 'PUT', path: `/v2/${repository}/manifests/huge`, headers: { 'Content-Type': MediaTypes.ociManifest }, body });
    assertRawError(response, 413, 'MANIFEST_INVALID');
    assert.equal(response.headers.connection, 'close');
  });

  it('PUT manifest exactly at the cap → accepted (not 413)', async () => {
    const parts = imageParts('at the cap', 1);
    await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
    const json = JSON.parse(ociManifest(parts).bytes.toString()) as Record<string, unknown>;
    const base = Buffer.byteLength(JSON.stringify({ ...json, annotations: { pad: '' } }));
    const manifest = manifestBody({ ...json, annotations: { pad: 'x'.repeat(1000 - base) } }, MediaTypes.ociManifest);
    assert.equal(manifest.size, 1000);
    const response = await putManifest(registry.url, repository, 'at-cap', manifest);
    await response.arrayBuffer();
    assert.equal(response.status, 201);
  });

  it('the connection stays usable after a 413 (a following request on a new connection works)', async () => {
    const response = await fetch(`${registry.url}/v2/`, { body: undefined });
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    const put = await fetch(`${registry.url}/v2/${repository}/manifests/big`, { method: 'PUT', headers: { 'Content-Type': MediaTypes.ociManifest }, body: bodyOf(bigManifest(1500)) });
    await assertError(put, 413, 'MANIFEST_INVALID');
  });
});
