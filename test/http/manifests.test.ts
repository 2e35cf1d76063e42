// end-3 (GET/HEAD manifest), end-7 (PUT manifest), end-9 (DELETE manifest) for every manifest kind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  artifactManifest,
  bodyOf,
  content,
  dockerManifest,
  EMPTY_CONFIG,
  freshRepository,
  imageParts,
  indexOf,
  manifestBody,
  MediaTypes,
  ociManifest,
  type ManifestBody,
} from '../support/content.js';
import { assertError } from '../support/error-envelope.js';
import { pushBlob, pushBlobs, pushImage, pushManifest, putManifest } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

for (const storage of ['filesystem', 'inmemory'] as const) {
  describe(`manifests (${storage})`, () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startTestRegistry({ storage });
    });
    after(async () => {
      await registry.stop();
    });

    const manifestUrl = (repository: string, reference: string): string => `${registry.url}/v2/${repository}/manifests/${reference}`;

    async function assertServedManifest(repository: string, reference: string, manifest: ManifestBody): Promise<void> {
      const response = await fetch(manifestUrl(repository, reference), { headers: { Accept: manifest.mediaType } });
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200, `GET ${repository}:${reference}`);
      assert.equal(response.headers.get('content-type'), manifest.mediaType);
      assert.equal(response.headers.get('docker-content-digest'), manifest.digest);
      assert.equal(response.headers.get('content-length'), String(manifest.size));
      assert.ok(body.equals(manifest.bytes), 'the exact bytes pushed are served');
      const head = await fetch(manifestUrl(repository, reference), { method: 'HEAD', headers: { Accept: manifest.mediaType } });
      assert.equal(head.status, 200, `HEAD ${repository}:${reference}`);
      assert.equal(head.headers.get('content-type'), manifest.mediaType);
      assert.equal(head.headers.get('docker-content-digest'), manifest.digest);
      assert.equal(head.headers.get('content-length'), String(manifest.size));
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    }

    async function assertPutCreated(response: Response, repository: string, manifest: ManifestBody): Promise<void> {
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('docker-content-digest'), manifest.digest);
      const location = response.headers.get('location') ?? '';
      assert.equal(new URL(location, registry.url).pathname, `/v2/${repository}/manifests/${manifest.digest}`);
    }

    it('PUT OCI image manifest by tag → 201 with Location and Docker-Content-Digest; GET/HEAD by tag and digest serve the exact bytes', async () => {
      const repository = freshRepository();
      const parts = imageParts('oci');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const manifest = ociManifest(parts);
      await assertPutCreated(await putManifest(registry.url, repository, 'v1', manifest), repository, manifest);
      await assertServedManifest(repository, 'v1', manifest);
      await assertServedManifest(repository, manifest.digest, manifest);
    });

    it('PUT OCI image manifest by digest → 201; served by digest; not tagged', async () => {
      const repository = freshRepository();
      const parts = imageParts('by-digest');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const manifest = ociManifest(parts);
      await assertPutCreated(await putManifest(registry.url, repository, manifest.digest, manifest), repository, manifest);
      await assertServedManifest(repository, manifest.digest, manifest);
      const tags = await fetch(`${registry.url}/v2/${repository}/tags/list`);
      assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, []);
    });

    it('GET manifest returns the ETag of its digest; If-None-Match → 304', async () => {
      const repository = freshRepository();
      const image = await pushImage(registry.url, repository, 'etag');
      const response = await fetch(manifestUrl(repository, 'etag'));
      await response.arrayBuffer();
      assert.equal(response.headers.get('etag'), `"${image.manifest.digest}"`);
      const cached = await fetch(manifestUrl(repository, 'etag'), { headers: { 'If-None-Match': `"${image.manifest.digest}"` } });
      await cached.arrayBuffer();
      assert.equal(cached.status, 304);
    });

    it('PUT Docker schema2 manifest (pretty-printed) → 201; served back byte for byte with its media type', async () => {
      const repository = freshRepository();
      const parts = imageParts('docker');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const manifest = dockerManifest(parts);
      await assertPutCreated(await putManifest(registry.url, repository, 'latest', manifest), repository, manifest);
      await assertServedManifest(repository, 'latest', manifest);
    });

    it('PUT OCI index of pushed manifests → 201; GET serves it with the index media type', async () => {
      const repository = freshRepository();
      const amd = await pushImage(registry.url, repository, undefined, { label: 'amd64' });
      const arm = await pushImage(registry.url, repository, undefined, { label: 'arm64' });
      const index = indexOf([amd.manifest, arm.manifest]);
      await assertPutCreated(await putManifest(registry.url, repository, 'multi', index), repository, index);
      await assertServedManifest(repository, 'multi', index);
      await assertServedManifest(repository, amd.manifest.digest, amd.manifest);
    });

    it('PUT Docker manifest list of pushed schema2 manifests → 201; served with the list media type', async () => {
      const repository = freshRepository();
      const children: ManifestBody[] = [];
      for (const label of ['one', 'two']) {
        const parts = imageParts(label);
        await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
        const child = dockerManifest(parts);
        await pushManifest(registry.url, repository, child.digest, child);
        children.push(child);
      }
      const list = indexOf(children, MediaTypes.dockerList);
      await assertPutCreated(await putManifest(registry.url, repository, 'list', list), repository, list);
      await assertServedManifest(repository, 'list', list);
    });

    it('PUT artifact manifest with artifactType and the empty config ({}) → 201; served back', async () => {
      const repository = freshRepository();
      const payload = content('an artifact payload');
      await pushBlobs(registry.url, repository, [EMPTY_CONFIG, payload]);
      const artifact = artifactManifest('application/vnd.example.sbom.v1+json', [payload]);
      await assertPutCreated(await putManifest(registry.url, repository, 'sbom', artifact), repository, artifact);
      await assertServedManifest(repository, 'sbom', artifact);
      const config = await fetch(`${registry.url}/v2/${repository}/blobs/${EMPTY_CONFIG.digest}`);
      assert.equal(Buffer.from(await config.arrayBuffer()).toString(), '{}');
    });

    it('PUT manifest with a subject → 201 with OCI-Subject naming the subject digest', async () => {
      const repository = freshRepository();
      const subject = await pushImage(registry.url, repository, 'subject');
      await pushBlob(registry.url, repository, EMPTY_CONFIG);
      const referrer = artifactManifest('application/vnd.example.signature', [], { subject: subject.manifest });
      const response = await putManifest(registry.url, repository, referrer.digest, referrer);
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('oci-subject'), subject.manifest.digest);
    });

    it('PUT manifest without a subject → no OCI-Subject header', async () => {
      const repository = freshRepository();
      const parts = imageParts('nosubject');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const response = await putManifest(registry.url, repository, 'x', ociManifest(parts));
      await response.arrayBuffer();
      assert.equal(response.headers.get('oci-subject'), null);
    });

    it('PUT manifest by digest whose body hashes differently → 400 DIGEST_INVALID', async () => {
      const repository = freshRepository();
      const parts = imageParts('mismatch');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const manifest = ociManifest(parts);
      await assertError(await putManifest(registry.url, repository, content('other').digest, manifest), 400, 'DIGEST_INVALID');
      const get = await fetch(manifestUrl(repository, manifest.digest));
      await get.arrayBuffer();
      assert.equal(get.status, 404);
    });

    it('PUT manifest by sha512 digest → 201 and served under it', async () => {
      const repository = freshRepository();
      const parts = imageParts('sha512');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const manifest = ociManifest(parts);
      const digest = content(manifest.bytes, 'sha512').digest;
      const response = await putManifest(registry.url, repository, digest, manifest);
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('docker-content-digest'), digest);
      await assertServedManifest(repository, digest, { ...manifest, digest });
    });

    it('PUT manifest with unknown layer → 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const repository = freshRepository();
      const parts = imageParts('missing-layer');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers.slice(1)]);
      await assertError(await putManifest(registry.url, repository, 'x', ociManifest(parts)), 400, 'MANIFEST_BLOB_UNKNOWN');
    });

    it('PUT manifest with unknown config → 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const repository = freshRepository();
      const parts = imageParts('missing-config');
      await pushBlobs(registry.url, repository, parts.layers);
      await assertError(await putManifest(registry.url, repository, 'x', ociManifest(parts)), 400, 'MANIFEST_BLOB_UNKNOWN');
    });

    it('PUT manifest whose layer is only in another repository → 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const other = freshRepository('other');
      const repository = freshRepository();
      const parts = imageParts('elsewhere');
      await pushBlobs(registry.url, other, parts.layers);
      await pushBlob(registry.url, repository, parts.config);
      await assertError(await putManifest(registry.url, repository, 'x', ociManifest(parts)), 400, 'MANIFEST_BLOB_UNKNOWN');
    });

    it('PUT index with a missing child manifest → 400 MANIFEST_UNKNOWN', async () => {
      const repository = freshRepository();
      const present = await pushImage(registry.url, repository);
      const absent = ociManifest(imageParts('never pushed'));
      await assertError(await putManifest(registry.url, repository, 'idx', indexOf([present.manifest, absent])), 400, 'MANIFEST_UNKNOWN');
    });

    it('PUT broken JSON → 400 MANIFEST_INVALID', async () => {
      const repository = freshRepository();
      const broken = { bytes: Buffer.from('{"schemaVersion": 2, "mediaType": '), mediaType: MediaTypes.ociManifest, digest: '', size: 0 };
      await assertError(await putManifest(registry.url, repository, 'x', broken), 400, 'MANIFEST_INVALID');
    });

    it('PUT a JSON value that is not an object → 400 MANIFEST_INVALID', async () => {
      for (const text of ['[]', '"x"', 'null', '42']) {
        const body = { bytes: Buffer.from(text), mediaType: MediaTypes.ociManifest, digest: '', size: 0 };
        await assertError(await putManifest(registry.url, freshRepository(), 'x', body), 400, 'MANIFEST_INVALID', text);
      }
    });

    it('PUT manifest with wrong schemaVersion → 400 MANIFEST_INVALID', async () => {
      const repository = freshRepository();
      const parts = imageParts('schema3');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const json = JSON.parse(ociManifest(parts).bytes.toString()) as Record<string, unknown>;
      for (const schemaVersion of [3, '2', undefined]) {
        const body = manifestBody({ ...json, schemaVersion }, MediaTypes.ociManifest);
        await assertError(await putManifest(registry.url, repository, 'x', body), 400, 'MANIFEST_INVALID', `schemaVersion ${String(schemaVersion)}`);
      }
    });

    it('PUT manifest whose mediaType disagrees with Content-Type → 400 MANIFEST_INVALID', async () => {
      const repository = freshRepository();
      const parts = imageParts('mismatched type');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      await assertError(await putManifest(registry.url, repository, 'x', ociManifest(parts), MediaTypes.dockerManifest), 400, 'MANIFEST_INVALID');
    });

    it('PUT manifest with an unknown media type → 400 MANIFEST_INVALID', async () => {
      const body = manifestBody({ schemaVersion: 2, mediaType: 'application/vnd.example.unknown+json', config: {}, layers: [] }, 'application/vnd.example.unknown+json');
      await assertError(await putManifest(registry.url, freshRepository(), 'x', body), 400, 'MANIFEST_INVALID');
    });

    it('PUT manifest whose descriptors are malformed → 400 MANIFEST_INVALID', async () => {
      const repository = freshRepository();
      const parts = imageParts('bad descriptors');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const json = JSON.parse(ociManifest(parts).bytes.toString()) as { config: Record<string, unknown>; layers: unknown[] };
      const variants: unknown[] = [
        { ...json, layers: 'not an array' },
        { ...json, config: { ...json.config, digest: 'sha256:short' } },
        { ...json, config: { ...json.config, size: -1 } },
        { ...json, config: { ...json.config, mediaType: 'not a media type' } },
        { ...json, layers: [null] },
        { ...json, annotations: { key: 1 } },
      ];
      for (const variant of variants) {
        const body = manifestBody(variant as object, MediaTypes.ociManifest);
        await assertError(await putManifest(registry.url, repository, 'x', body), 400, 'MANIFEST_INVALID', JSON.stringify(variant).slice(0, 120));
      }
    });

    it('PUT Docker schema1 manifest → 400 MANIFEST_INVALID', async () => {
      const schema1 = manifestBody(
        { schemaVersion: 1, name: 'x/y', tag: 'latest', architecture: 'amd64', fsLayers: [], history: [], signatures: [] },
        MediaTypes.dockerSchema1Signed,
      );
      await assertError(await putManifest(registry.url, freshRepository(), 'latest', schema1), 400, 'MANIFEST_INVALID');
    });

    it('PUT manifest with an invalid tag → 400 (MANIFEST_INVALID or TAG_INVALID)', async () => {
      const repository = freshRepository();
      const image = await pushImage(registry.url, repository);
      const response = await putManifest(registry.url, repository, '-starts-with-dash', image.manifest);
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.ok(['MANIFEST_INVALID', 'TAG_INVALID'].includes((JSON.parse(text) as { errors: Array<{ code: string }> }).errors[0]?.code ?? ''));
    });

    it('PUT the same manifest under a tag again moves nothing; PUT another moves the tag (overwrite)', async () => {
      const repository = freshRepository();
      const first = await pushImage(registry.url, repository, 'moving');
      await assertServedManifest(repository, 'moving', first.manifest);
      await pushManifest(registry.url, repository, 'moving', first.manifest);
      await assertServedManifest(repository, 'moving', first.manifest);
      const second = await pushImage(registry.url, repository, 'moving');
      await assertServedManifest(repository, 'moving', second.manifest);
      await assertServedManifest(repository, first.manifest.digest, first.manifest);
      const tags = (await (await fetch(`${registry.url}/v2/${repository}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['moving']);
    });

    it('GET manifest by unknown tag / unknown digest → 404 MANIFEST_UNKNOWN', async () => {
      const repository = freshRepository();
      await pushImage(registry.url, repository, 'present');
      await assertError(await fetch(manifestUrl(repository, 'absent')), 404, 'MANIFEST_UNKNOWN');
      await assertError(await fetch(manifestUrl(repository, content('nope').digest)), 404, 'MANIFEST_UNKNOWN');
      const head = await fetch(manifestUrl(repository, 'absent'), { method: 'HEAD' });
      assert.equal(head.status, 404);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    });

    it('GET manifest in an unknown repository → 404 NAME_UNKNOWN', async () => {
      await assertError(await fetch(manifestUrl('no/such-repository', 'latest')), 404, 'NAME_UNKNOWN');
    });

    it('GET manifest of another repository by digest → 404 MANIFEST_UNKNOWN', async () => {
      const image = await pushImage(registry.url, freshRepository('a'), 'x');
      const other = freshRepository('b');
      await pushImage(registry.url, other, 'y');
      await assertError(await fetch(manifestUrl(other, image.manifest.digest)), 404, 'MANIFEST_UNKNOWN');
    });

    it('GET manifest with a malformed digest reference → 400 DIGEST_INVALID', async () => {
      const repository = freshRepository();
      await pushImage(registry.url, repository, 'x');
      await assertError(await fetch(manifestUrl(repository, 'sha256:abc')), 400, 'DIGEST_INVALID');
    });

    it('a manifest is also served through the blobs endpoint by its digest', async () => {
      const repository = freshRepository();
      const image = await pushImage(registry.url, repository, 'asblob');
      const response = await fetch(`${registry.url}/v2/${repository}/blobs/${image.manifest.digest}`);
      assert.equal(response.status, 200);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(image.manifest.bytes));
    });

    it('PUT manifest with Content-Type application/json but a mediaType field → 201 with the body mediaType', async () => {
      const repository = freshRepository();
      const parts = imageParts('generic content type');
      await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const manifest = ociManifest(parts);
      const response = await fetch(manifestUrl(repository, 'json'), { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: bodyOf(manifest.bytes) });
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      await assertServedManifest(repository, 'json', manifest);
    });
  });
}
