// end-9 (DELETE manifest by tag or digest) and end-10 (DELETE blob); deletes disabled → 405.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { content, freshRepository } from '../support/content.js';
import { assertError } from '../support/error-envelope.js';
import { pushBlob, pushImage, pushManifest, startUpload } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init);
  await response.arrayBuffer();
  return response.status;
}

describe('deletes enabled', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({ storage: 'filesystem' });
  });
  after(async () => {
    await registry.stop();
  });

  it('DELETE manifest by tag → 202; the tag is gone, the manifest is still GET-able by digest', async () => {
    const repository = freshRepository();
    const image = await pushImage(registry.url, repository, 'doomed');
    await pushManifest(registry.url, repository, 'kept', image.manifest);
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/doomed`, { method: 'DELETE' }), 202);
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/doomed`), 404, 'MANIFEST_UNKNOWN');
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/${image.manifest.digest}`), 200);
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/kept`), 200);
    const tags = (await (await fetch(`${registry.url}/v2/${repository}/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['kept']);
  });

  it('DELETE manifest by digest → 202; the manifest and every tag on it are gone', async () => {
    const repository = freshRepository();
    const image = await pushImage(registry.url, repository, 'one');
    await pushManifest(registry.url, repository, 'two', image.manifest);
    const other = await pushImage(registry.url, repository, 'other');
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/${image.manifest.digest}`, { method: 'DELETE' }), 202);
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/${image.manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/one`), 404, 'MANIFEST_UNKNOWN');
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/two`), 404, 'MANIFEST_UNKNOWN');
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/other`), 200);
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/${other.manifest.digest}`), 200);
    const tags = (await (await fetch(`${registry.url}/v2/${repository}/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['other']);
  });

  it('a deleted manifest can be pushed again', async () => {
    const repository = freshRepository();
    const image = await pushImage(registry.url, repository, 'again');
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/${image.manifest.digest}`, { method: 'DELETE' }), 202);
    await pushManifest(registry.url, repository, 'again', image.manifest);
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/again`), 200);
  });

  it('DELETE an unknown tag or digest → 404 MANIFEST_UNKNOWN; in an unknown repository → 404 NAME_UNKNOWN', async () => {
    const repository = freshRepository();
    await pushImage(registry.url, repository, 'x');
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/nope`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/${content('nope').digest}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
    await assertError(await fetch(`${registry.url}/v2/no/such-repo/manifests/x`, { method: 'DELETE' }), 404, 'NAME_UNKNOWN');
  });

  it('DELETE blob → 202; then GET/HEAD → 404 BLOB_UNKNOWN; DELETE again → 404 BLOB_UNKNOWN', async () => {
    const repository = freshRepository();
    const blob = content('a blob to delete');
    await pushBlob(registry.url, repository, blob);
    assert.equal(await status(`${registry.url}/v2/${repository}/blobs/${blob.digest}`, { method: 'DELETE' }), 202);
    await assertError(await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
    assert.equal(await status(`${registry.url}/v2/${repository}/blobs/${blob.digest}`, { method: 'HEAD' }), 404);
    await assertError(await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
  });

  it('DELETE blob in one repository leaves it in another', async () => {
    const first = freshRepository('first');
    const second = freshRepository('second');
    const blob = content('shared blob');
    await pushBlob(registry.url, first, blob);
    await pushBlob(registry.url, second, blob);
    assert.equal(await status(`${registry.url}/v2/${first}/blobs/${blob.digest}`, { method: 'DELETE' }), 202);
    assert.equal(await status(`${registry.url}/v2/${second}/blobs/${blob.digest}`), 200);
  });

  it('DELETE blob with a malformed digest → 400 DIGEST_INVALID', async () => {
    await assertError(await fetch(`${registry.url}/v2/${freshRepository()}/blobs/sha256:zz`, { method: 'DELETE' }), 400, 'DIGEST_INVALID');
  });
});

describe('deletes disabled (storage.delete.enabled: false)', () => {
  let registry: TestRegistry;
  let repository: string;
  let digest: string;
  let blobDigest: string;
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_STORAGE_DELETE_ENABLED: 'false' } });
    repository = freshRepository();
    const image = await pushImage(registry.url, repository, 'kept');
    digest = image.manifest.digest;
    blobDigest = image.config.digest;
  });
  after(async () => {
    await registry.stop();
  });

  it('DELETE manifest by tag → 405 UNSUPPORTED; the tag stays', async () => {
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/kept`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/kept`), 200);
  });

  it('DELETE manifest by digest → 405 UNSUPPORTED; the manifest stays', async () => {
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/${digest}`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    assert.equal(await status(`${registry.url}/v2/${repository}/manifests/${digest}`), 200);
  });

  it('DELETE blob → 405 UNSUPPORTED; the blob stays', async () => {
    await assertError(await fetch(`${registry.url}/v2/${repository}/blobs/${blobDigest}`, { method: 'DELETE' }), 405, 'UNSUPPORTED');
    assert.equal(await status(`${registry.url}/v2/${repository}/blobs/${blobDigest}`), 200);
  });

  it('cancelling an upload (DELETE upload) still works → 204', async () => {
    const location = await startUpload(registry.url, repository);
    assert.equal(await status(location, { method: 'DELETE' }), 204);
  });
});
