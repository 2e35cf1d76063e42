// end-12a/12b: the referrers API (OCI distribution-spec v1.1).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { artifactManifest, content, EMPTY_CONFIG, freshRepository, MediaTypes, ociManifest, imageParts, type ManifestBody } from '../support/content.js';
import { assertError } from '../support/error-envelope.js';
import { pushBlob, pushBlobs, pushImage, pushManifest } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Array<{ mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }>;
}

const SBOM = 'application/vnd.example.sbom.v1+json';
const SIGNATURE = 'application/vnd.example.signature.v1+json';

describe('referrers: GET /v2/<name>/referrers/<digest>', () => {
  let registry: TestRegistry;
  let repository: string;
  let subject: ManifestBody;
  let sbom: ManifestBody;
  let signature: ManifestBody;
  let imageReferrer: ManifestBody;

  before(async () => {
    registry = await startTestRegistry({ storage: 'filesystem' });
    repository = freshRepository('referrers');
    subject = (await pushImage(registry.url, repository, 'app')).manifest;
    const payload = content('sbom contents');
    await pushBlobs(registry.url, repository, [EMPTY_CONFIG, payload]);
    sbom = artifactManifest(SBOM, [payload], { subject, annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'com.example.kind': 'sbom' } });
    signature = artifactManifest(SIGNATURE, [], { subject });
    await pushManifest(registry.url, repository, sbom.digest, sbom);
    await pushManifest(registry.url, repository, signature.digest, signature);
    // An image manifest without artifactType: its config media type is its artifactType.
    const parts = imageParts('image referrer', 1);
    await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
    imageReferrer = ociManifest(parts, { subject, configMediaType: 'application/vnd.example.config.v1+json' });
    await pushManifest(registry.url, repository, imageReferrer.digest, imageReferrer);
  });
  after(async () => {
    await registry.stop();
  });

  async function referrers(digest: string, query = ''): Promise<{ response: Response; index: ReferrersIndex }> {
    const response = await fetch(`${registry.url}/v2/${repository}/referrers/${digest}${query}`);
    assert.equal(response.status, 200);
    return { response, index: (await response.json()) as ReferrersIndex };
  }

  it('→ 200 with an OCI image index (Content-Type application/vnd.oci.image.index.v1+json)', async () => {
    const { response, index } = await referrers(subject.digest);
    assert.equal(response.headers.get('content-type'), MediaTypes.ociIndex);
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MediaTypes.ociIndex);
    assert.equal(index.manifests.length, 3);
    assert.equal(response.headers.get('oci-filters-applied'), null);
  });

  it('each descriptor carries mediaType, digest, size, artifactType and annotations of the referrer', async () => {
    const { index } = await referrers(subject.digest);
    const byDigest = new Map(index.manifests.map((descriptor) => [descriptor.digest, descriptor]));
    assert.deepEqual(byDigest.get(sbom.digest), {
      mediaType: MediaTypes.ociManifest,
      digest: sbom.digest,
      size: sbom.size,
      artifactType: SBOM,
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'com.example.kind': 'sbom' },
    });
    assert.equal(byDigest.get(signature.digest)?.artifactType, SIGNATURE);
    assert.equal(byDigest.get(signature.digest)?.annotations, undefined);
    assert.equal(byDigest.get(imageReferrer.digest)?.artifactType, 'application/vnd.example.config.v1+json', 'an image without artifactType shows its config media type');
  });

  it('?artifactType= filters the list and sets OCI-Filters-Applied: artifactType', async () => {
    const { response, index } = await referrers(subject.digest, `?artifactType=${encodeURIComponent(SBOM)}`);
    assert.equal(response.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(index.manifests.map((descriptor) => descriptor.digest), [sbom.digest]);
  });

  it('?artifactType= that nothing has → 200 with an empty list and the filter header', async () => {
    const { response, index } = await referrers(subject.digest, '?artifactType=application/vnd.example.none');
    assert.equal(response.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(index.manifests, []);
  });

  it('unknown subject → 200 with an empty index', async () => {
    const { response, index } = await referrers(content('no such subject').digest);
    assert.equal(response.headers.get('content-type'), MediaTypes.ociIndex);
    assert.deepEqual(index, { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] });
  });

  it('a referrer pushed before its subject is accepted and listed', async () => {
    const parts = imageParts('future subject');
    const future = ociManifest(parts);
    const early = artifactManifest(SIGNATURE, [], { subject: future });
    const response = await fetch(`${registry.url}/v2/${repository}/manifests/${early.digest}`, { method: 'PUT', headers: { 'Content-Type': early.mediaType }, body: new Uint8Array(early.bytes) });
    await response.arrayBuffer();
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('oci-subject'), future.digest);
    assert.deepEqual((await referrers(future.digest)).index.manifests.map((descriptor) => descriptor.digest), [early.digest]);
    await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
    await pushManifest(registry.url, repository, 'future', future);
    assert.deepEqual((await referrers(future.digest)).index.manifests.map((descriptor) => descriptor.digest), [early.digest]);
  });

  it('an index can be a referrer too (subject on an image index)', async () => {
    const other = freshRepository('index-referrer');
    const base = await pushImage(registry.url, other, 'base');
    await pushBlob(registry.url, other, EMPTY_CONFIG);
    const indexReferrer: ManifestBody = (() => {
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, artifactType: SBOM, manifests: [], subject: { mediaType: MediaTypes.ociManifest, digest: base.manifest.digest, size: base.manifest.size } }));
      return { ...content(bytes), mediaType: MediaTypes.ociIndex };
    })();
    await pushManifest(registry.url, other, indexReferrer.digest, indexReferrer);
    const response = await fetch(`${registry.url}/v2/${other}/referrers/${base.manifest.digest}`);
    const index = (await response.json()) as ReferrersIndex;
    assert.deepEqual(index.manifests.map((descriptor) => [descriptor.digest, descriptor.mediaType, descriptor.artifactType]), [[indexReferrer.digest, MediaTypes.ociIndex, SBOM]]);
  });

  it('referrers are per repository: another repository does not see them', async () => {
    const other = freshRepository('other');
    await pushImage(registry.url, other, 'x');
    const response = await fetch(`${registry.url}/v2/${other}/referrers/${subject.digest}`);
    assert.equal(response.status, 200);
    assert.deepEqual(((await response.json()) as ReferrersIndex).manifests, []);
  });

  it('a deleted referrer is no longer listed', async () => {
    const other = freshRepository('deleted-referrer');
    const base = await pushImage(registry.url, other, 'base');
    await pushBlob(registry.url, other, EMPTY_CONFIG);
    const referrer = artifactManifest(SIGNATURE, [], { subject: base.manifest });
    await pushManifest(registry.url, other, referrer.digest, referrer);
    const deleted = await fetch(`${registry.url}/v2/${other}/manifests/${referrer.digest}`, { method: 'DELETE' });
    await deleted.arrayBuffer();
    assert.equal(deleted.status, 202);
    const response = await fetch(`${registry.url}/v2/${other}/referrers/${base.manifest.digest}`);
    assert.deepEqual(((await response.json()) as ReferrersIndex).manifests, []);
  });

  it('malformed digest → 400 DIGEST_INVALID', async () => {
    await assertError(await fetch(`${registry.url}/v2/${repository}/referrers/sha256:nothex`), 400, 'DIGEST_INVALID');
    await assertError(await fetch(`${registry.url}/v2/${repository}/referrers/latest`), 400, 'DIGEST_INVALID');
  });
});
