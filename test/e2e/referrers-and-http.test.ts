// What no installable client does, checked over plain HTTP after skopeo pushed the content:
// the OCI 1.1 referrers API (the `artifact` fixture's subject is `oci-image`), its
// artifactType filter, and `_catalog` listing the pushed repositories.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { MT, parseJson, type Manifest } from './harness/digests.js';
import { digestOf } from './harness/fixtures.js';
import { describeReply, type HttpReply } from './harness/registry-api.js';
import { FILE_TIMEOUT_MS, startSuite, stopSuite, type Suite } from './harness/suite.js';

let s: Suite;
let subject: string;
let artifact: string;
let artifactManifest: Manifest;

await describe('referrers API, catalog and tags over HTTP', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    s = await startSuite('referrers-http');
    const push = (name: string, dest: string): Promise<unknown> =>
      s.clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--dest-tls-verify=false', s.fx.get(name).ref, `docker://${s.reg.host}/${dest}`]);
    await push('oci-image', 'ref/app:v1');
    await push('artifact', 'ref/app:sbom');
    await push('plain-tar', 'cat/one:v1');
    await push('docker-v2s2', 'cat/two/deeper:v1');
    subject = digestOf(s.fx.get('oci-image'));
    artifact = digestOf(s.fx.get('artifact'));
    artifactManifest = parseJson<Manifest>(s.fx.image('artifact').read(artifact));
  });
  after(async () => {
    await stopSuite(s);
  });

  /** GET …/referrers/<digest>; on the reference registry (no referrers API) a 404 is a skip. */
  async function referrers(t: TestContext, digest: string, query = ''): Promise<HttpReply | undefined> {
    const r = await s.api.request('GET', `/v2/ref/app/referrers/${digest}${query}`);
    if (r.status === 404 && s.reg.kind === 'reference') {
      t.skip('docker-registry 2.8.2 has no referrers API');
      return undefined;
    }
    assert.equal(r.status, 200, describeReply(r));
    assert.equal(r.headers.get('content-type')?.split(';')[0], MT.ociIndex, describeReply(r));
    return r;
  }

  await describe('referrers API', async () => {
    await test('the artifact fixture points at oci-image as its subject', () => {
      assert.equal(artifactManifest.subject?.digest, subject);
      assert.ok(artifactManifest.artifactType, 'fixture has an artifactType');
    });

    await test('GET /v2/<name>/referrers/<subject> lists the pushed artifact with its artifactType and annotations', async (t) => {
      const r = await referrers(t, subject);
      if (!r) return;
      const index = parseJson<Manifest>(r.body);
      assert.equal(index.schemaVersion, 2);
      assert.equal(index.mediaType, MT.ociIndex);
      const found = (index.manifests ?? []).filter((d) => d.digest === artifact);
      assert.equal(found.length, 1, describeReply(r));
      const d = found[0];
      assert.ok(d);
      assert.equal(d.mediaType, MT.ociManifest);
      assert.equal(d.size, s.fx.image('artifact').read(artifact).length);
      assert.equal(d.artifactType, artifactManifest.artifactType);
      assert.deepEqual(d.annotations ?? {}, (artifactManifest as { annotations?: Record<string, string> }).annotations ?? {});
      assert.equal(index.manifests?.length, 1, 'nothing else refers to the subject');
    });

    await test('?artifactType= filters, and says so in OCI-Filters-Applied', async (t) => {
      const type = artifactManifest.artifactType ?? '';
      const hit = await referrers(t, subject, `?artifactType=${encodeURIComponent(type)}`);
      if (!hit) return;
      assert.deepEqual(parseJson<Manifest>(hit.body).manifests?.map((d) => d.digest), [artifact], describeReply(hit));
      assert.equal(hit.headers.get('oci-filters-applied'), 'artifactType', describeReply(hit));
      const miss = await referrers(t, subject, `?artifactType=${encodeURIComponent('application/vnd.example.none')}`);
      if (!miss) return;
      assert.deepEqual(parseJson<Manifest>(miss.body).manifests, [], describeReply(miss));
      assert.equal(miss.headers.get('oci-filters-applied'), 'artifactType', describeReply(miss));
    });

    await test('a digest nothing refers to gives 200 and an empty index', async (t) => {
      const r = await referrers(t, artifact);
      if (!r) return;
      assert.deepEqual(parseJson<Manifest>(r.body).manifests, [], describeReply(r));
    });
  });

  await describe('catalog and tags', async () => {
    await test('_catalog lists every pushed repository, sorted', async () => {
      const repos = await s.api.catalog();
      assert.deepEqual(repos, ['cat/one', 'cat/two/deeper', 'ref/app']);
    });

    await test('tags/list of a repository holding an image and its artifact, in lexical order', async (t) => {
      const tags = await s.api.tags('ref/app');
      assert.deepEqual([...tags].sort(), ['sbom', 'v1']);
      if (s.reg.kind === 'reference' && tags[0] !== 'sbom') {
        t.skip(`docker-registry 2.8.2 lists tags unsorted: ${tags.join(', ')}`);
        return;
      }
      assert.deepEqual(tags, ['sbom', 'v1']);
    });
  });
});
