// Several upstreams beside hosted repositories (proxy.upstreams): a namespace `mirror/` mirrors a
// real docker-registry 2.8.2, other repositories are hosted by Berth. skopeo pulls through the
// namespace and pushes to a hosted repository; a transparent-mirror request (containerd's `?ns=`)
// without the prefix reaches the same upstream; so does a bare name that `unprefixed` takes (mirrors
// sending no `?ns=`), and a denied repository is refused with 403 DENIED.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClients, type Clients } from './harness/clients.js';
import { describeRun } from './harness/exec.js';
import { digestOf, loadFixtures, type Fixtures } from './harness/fixtures.js';
import { freshShortDir, freshWorkDir } from './harness/paths.js';
import { ACCEPT_ALL_MANIFESTS } from './harness/registry-api.js';
import { startRegistry, type Registry } from './harness/registry-process.js';
import { FILE_TIMEOUT_MS } from './harness/suite.js';

let work: string;
let short: string;
let fx: Fixtures;
let upstream: Registry | undefined;
let berth: Registry | undefined;
let clients: Clients;

await describe('pull-through namespaces beside hosted repositories (proxy.upstreams)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    work = freshWorkDir('proxy-ns');
    short = freshShortDir();
    fx = await loadFixtures();
    upstream = await startRegistry(path.join(work, 'upstream'), 'reference');
    clients = makeClients(work, short, upstream.host);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('oci-image').ref, `docker://${upstream.host}/team/oci-image:v1`]);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('docker-v2s2').ref, `docker://${upstream.host}/library/alpine:3`]);
    berth = await startRegistry(path.join(work, 'berth'), 'berth', {
      extra: [`proxy: { upstreams: [ { prefix: mirror/, remoteurl: "${upstream.url}", hosts: ["${upstream.host}"], ttl: 1m, library: true, unprefixed: ["library/**"], deny: [team/denied] } ] }`],
    });
  });

  after(async () => {
    await berth?.stop();
    await upstream?.stop();
    if (process.env.E2E_KEEP !== '1') {
      rmSync(work, { recursive: true, force: true });
      rmSync(short, { recursive: true, force: true });
    }
  });

  const inspectDigest = async (ref: string): Promise<string> => {
    const out = await clients.skopeo(['inspect', '--raw', '--tls-verify=false', ref]);
    return `sha256:${(await import('node:crypto')).createHash('sha256').update(out.stdout).digest('hex')}`;
  };

  await test('skopeo pulls mirror/team/oci-image:v1 from the upstream through the namespace', async () => {
    assert.equal(await inspectDigest(`docker://${berth?.host}/mirror/team/oci-image:v1`), digestOf(fx.get('oci-image')));
    const dest = path.join(work, 'pulled');
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--src-tls-verify=false', `docker://${berth?.host}/mirror/team/oci-image:v1`, `dir:${dest}`]);
  });

  await test('a hosted repository beside it takes pushes and serves them; a push below mirror/ is refused', async () => {
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('docker-v2s2').ref, `docker://${berth?.host}/hosted/app:v1`]);
    assert.equal(await inspectDigest(`docker://${berth?.host}/hosted/app:v1`), digestOf(fx.get('docker-v2s2')));
    const refused = await clients.tryRun('skopeo', ['copy', '-q', '--dest-tls-verify=false', fx.get('docker-v2s2').ref, `docker://${berth?.host}/mirror/team/pushed:v1`]);
    assert.notEqual(refused.code, 0, describeRun(refused));
    const missing = await fetch(`${berth?.url}/v2/hosted/never/manifests/v1`);
    assert.equal(missing.status, 404, 'a hosted repository is not asked of the upstream');
  });

  await test('?ns=<upstream host> (containerd hosts.toml) selects the namespace: /v2/team/oci-image/… is mirror/team/oci-image', async () => {
    const viaNs = await fetch(`${berth?.url}/v2/team/oci-image/manifests/v1?ns=${upstream?.host}`, { headers: { accept: ACCEPT_ALL_MANIFESTS } });
    await viaNs.arrayBuffer();
    assert.equal(viaNs.status, 200);
    assert.equal(viaNs.headers.get('docker-content-digest'), digestOf(fx.get('oci-image')));
    const withoutNs = await fetch(`${berth?.url}/v2/team/oci-image/manifests/v1`);
    await withoutNs.arrayBuffer();
    assert.equal(withoutNs.status, 404, 'without ?ns= the name is a hosted repository');
  });

  await test('without ?ns= (dockerd, podman mirrors), library/alpine is taken by unprefixed; mirror/alpine is the same official image', async () => {
    assert.equal(await inspectDigest(`docker://${berth?.host}/library/alpine:3`), digestOf(fx.get('docker-v2s2')));
    assert.equal(await inspectDigest(`docker://${berth?.host}/mirror/alpine:3`), digestOf(fx.get('docker-v2s2')));
    const cached = await fetch(`${berth?.url}/v2/mirror/library/alpine/tags/list`);
    assert.equal(cached.status, 200, 'both forms are cached as mirror/library/alpine');
  });

  await test('a denied repository answers 403 DENIED (not the upstream\'s 404)', async () => {
    for (const url of [`${berth?.url}/v2/mirror/team/denied/manifests/v1`, `${berth?.url}/v2/team/denied/manifests/v1?ns=${upstream?.host}`]) {
      const response = await fetch(url);
      assert.equal(response.status, 403, url);
      assert.equal(((await response.json()) as { errors: { code: string }[] }).errors[0]?.code, 'DENIED');
    }
  });
});
