// The referrers API of a proxied repository: the upstream's referrers of a subject are brought into
// the cache (each referrer manifest fetched by digest, verified, stored) at most once per TTL, then
// listed from the metadata store as for any repository, artifactType filter included; with the
// upstream down, the cached referrers are still listed. An upstream without the referrers API
// (distribution 2.8 answers 404) leaves the cached ones. The upstream is another Berth behind a
// proxy that counts and cuts its requests.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { artifactManifest, content } from '../support/content.js';
import type { FaultProxy } from '../support/fault-proxy.js';
import { pushBlobs, pushImage, pushManifest } from '../support/push.js';
import { startProxyChain, type ProxyChain } from '../support/proxy-chain.js';
import type { TestRegistry } from '../support/test-registry.js';

const SBOM = 'application/vnd.example.sbom';
const SIGNATURE = 'application/vnd.example.signature';

describe('pull-through cache: referrers', () => {
  let chain: ProxyChain;
  let upstream: TestRegistry;
  let counter: FaultProxy;
  let mirror: TestRegistry;
  before(async () => {
    chain = await startProxyChain({ REGISTRY_PROXY_TTL: '1s' });
    ({ upstream, faults: counter, mirror } = chain);
  });
  after(() => chain.stop());

  it("lists the upstream's referrers, caches each referrer manifest, asks once per TTL, and lists the cache with the upstream down", async () => {
    const repository = 'cache/signed';
    const subject = await pushImage(upstream.url, repository, 'v1');
    const sbom = content(`sbom of ${subject.manifest.digest}`);
    const signature = content(`signature of ${subject.manifest.digest}`);
    await pushBlobs(upstream.url, repository, [sbom, signature, content('{}')]);
    const sbomManifest = artifactManifest(SBOM, [sbom], { subject: subject.manifest });
    const signatureManifest = artifactManifest(SIGNATURE, [signature], { subject: subject.manifest, annotations: { 'org.example.signer': 'ci' } });
    for (const manifest of [sbomManifest, signatureManifest]) assert.equal((await pushManifest(upstream.url, repository, manifest.digest, manifest)).status, 201);

    const path = `/v2/${repository}/referrers/${subject.manifest.digest}`;
    const listed = await fetch(`${mirror.url}${path}`);
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    const index = (await listed.json()) as { manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[] };
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), [sbomManifest.digest, signatureManifest.digest].sort());
    assert.equal(index.manifests.find((m) => m.digest === signatureManifest.digest)?.annotations?.['org.example.signer'], 'ci');
    assert.equal(counter.count('GET', path), 1);

    const filtered = (await (await fetch(`${mirror.url}${path}?artifactType=${encodeURIComponent(SBOM)}`)).json()) as { manifests: { digest: string }[] };
    assert.deepEqual(filtered.manifests.map((m) => m.digest), [sbomManifest.digest]);
    assert.equal(counter.count('GET', path), 1, 'within the TTL the upstream is not asked again');

    await sleep(1_100); // past the TTL: the upstream is asked again, and answers 503
    counter.rule = () => ({ status: 503 });
    try {
      const cached = (await (await fetch(`${mirror.url}${path}`)).json()) as { manifests: { digest: string }[] };
      assert.equal(counter.count('GET', path), 2, 'asked again after the TTL');
      assert.equal(cached.manifests.length, 2, 'listed from the cache');
      const referrer = await fetch(`${mirror.url}/v2/${repository}/manifests/${signatureManifest.digest}`, { headers: { accept: signatureManifest.mediaType } });
      assert.equal(referrer.status, 200, 'the referrer manifest itself is cached');
      assert.ok(Buffer.from(await referrer.arrayBuffer()).equals(signatureManifest.bytes));
    } finally {
      counter.rule = () => undefined;
    }
  });

  it('an upstream that does not answer the referrers API: the cached referrers are listed (none for a subject never seen)', async () => {
    counter.rule = (_method, path) => (path.includes('/referrers/') ? { status: 404 } : undefined);
    try {
      const response = await fetch(`${mirror.url}/v2/cache/unknown/referrers/sha256:${'a'.repeat(64)}`);
      assert.equal(response.status, 200);
      assert.deepEqual(((await response.json()) as { manifests: unknown[] }).manifests, []);
    } finally {
      counter.rule = () => undefined;
    }
  });
});
