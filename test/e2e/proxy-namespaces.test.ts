// Several upstreams beside hosted repositories (proxy.upstreams): a namespace `mirror/` mirrors a
// real docker-registry 2.8.2, other repositories are hosted by Berth. skopeo pulls through the
// namespace and pushes to a hosted repository; a transparent-mirror request (containerd's `?ns=`)
// without the prefix reaches the same upstream; so does a bare name that `unprefixed` takes (mirrors
// sending no `?ns=`), and a denied repository is refused with 403 DENIED. Then the real mirror
// clients: containerd (a hosts.toml mirror, which adds `?ns=`) and podman (`[[registry.mirror]]`,
// no `?ns=`) pull names of the upstream's host through Berth, and dockerd (`registry-mirrors`, no
// `?ns=`, Docker Hub names only) pulls an official image; each client's own fallback is made
// unreachable (a closed port; for dockerd a dead proxy) so that only the mirror can have served it;
// then, with the upstream stopped, each pulls the same image again into a fresh store, from the cache.
// Each pull is checked by digest and by the files of the image the client stored (exported or saved).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClients, type Clients } from './harness/clients.js';
import { startContainerd } from './harness/containerd.js';
import { startDockerd } from './harness/dockerd.js';
import { describeRun, run, runOk } from './harness/exec.js';
import { digestOf, loadFixtures, type Fixtures } from './harness/fixtures.js';
import { checkFiles, checkImageFiles, ociLayout, unpackLayers } from './harness/image-layout.js';
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
/** The upstream's host:port, the registry the mirror clients name (kept once the upstream is stopped). */
let UPSTREAM_HOST = '';

await describe('pull-through namespaces beside hosted repositories (proxy.upstreams)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    work = freshWorkDir('proxy-ns');
    short = freshShortDir();
    fx = await loadFixtures();
    upstream = await startRegistry(path.join(work, 'upstream'), 'reference');
    UPSTREAM_HOST = upstream.host;
    clients = makeClients(work, short, upstream.host);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('oci-image').ref, `docker://${upstream.host}/team/oci-image:v1`]);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('docker-v2s2').ref, `docker://${upstream.host}/library/alpine:3`]);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('oci-image').ref, `docker://${upstream.host}/team/ctr-only:v1`]);
    for (const tag of ['v2', 'v3']) await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('oci-image').ref, `docker://${upstream.host}/team/oci-image:${tag}`]);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('docker-v2s2').ref, `docker://${upstream.host}/library/podman-only:v1`]);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', fx.get('docker-v2s2').ref, `docker://${upstream.host}/library/docker-only:v1`]);
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

  /** Whether Berth has cached anything under `repository` (the catalog lists the cache; tags/list asks the upstream). */
  const isCached = async (repository: string): Promise<boolean> => {
    const response = await fetch(`${berth?.url}/v2/_catalog?n=1000`);
    assert.equal(response.status, 200);
    return ((await response.json()) as { repositories: string[] }).repositories.includes(repository);
  };

  const inspectDigest = async (ref: string): Promise<string> => {
    const out = await clients.skopeo(['inspect', '--raw', '--tls-verify=false', ref]);
    return `sha256:${(await import('node:crypto')).createHash('sha256').update(out.stdout).digest('hex')}`;
  };

  await test('skopeo pulls mirror/team/oci-image:v1 from the upstream through the namespace', async () => {
    assert.equal(await inspectDigest(`docker://${berth?.host}/mirror/team/oci-image:v1`), digestOf(fx.get('oci-image')));
    const dest = path.join(work, 'pulled');
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--src-tls-verify=false', `docker://${berth?.host}/mirror/team/oci-image:v1`, `dir:${dest}`]);
  });

  await test('tags/list of a proxied repository is the upstream\'s (skopeo list-tags), paged by Berth when the upstream (2.8.2) ignores n and last', async () => {
    const listed = JSON.parse((await clients.skopeo(['list-tags', '--tls-verify=false', `docker://${berth?.host}/mirror/team/oci-image`])).stdout) as { Tags: string[] };
    assert.deepEqual(listed.Tags.sort(), ['v1', 'v2', 'v3'], 'v2 and v3 were never pulled through');
    const first = await fetch(`${berth?.url}/v2/mirror/team/oci-image/tags/list?n=2`);
    assert.deepEqual(((await first.json()) as { tags: string[] }).tags, ['v1', 'v2']);
    const link = first.headers.get('link') ?? '';
    assert.match(link, /\/v2\/mirror\/team\/oci-image\/tags\/list\?n=2&last=v2/, 'the next page is Berth\'s, under the namespace');
    const second = await fetch(`${berth?.url}/v2/mirror/team/oci-image/tags/list?n=2&last=v2`);
    assert.deepEqual(((await second.json()) as { tags: string[] }).tags, ['v3']);
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
    assert.equal(await isCached('mirror/library/alpine'), true, 'both forms are cached as mirror/library/alpine');
  });

  await test('a denied repository answers 403 DENIED (not the upstream\'s 404)', async () => {
    for (const url of [`${berth?.url}/v2/mirror/team/denied/manifests/v1`, `${berth?.url}/v2/team/denied/manifests/v1?ns=${upstream?.host}`]) {
      const response = await fetch(url);
      assert.equal(response.status, 403, url);
      assert.equal(((await response.json()) as { errors: { code: string }[] }).errors[0]?.code, 'DENIED');
    }
  });

  /** containerd (fresh root each time) pulls a name of the upstream's host through a hosts.toml mirror; its fallback is a closed port. */
  const ctrPull = async (round: string): Promise<void> => {
    const cd = await startContainerd(path.join(work, `ctr-${round}`), path.join(short, `c${round.slice(0, 1)}`));
    try {
      const hostsDir = path.join(work, 'ctr-mirror-hosts');
      mkdirSync(path.join(hostsDir, UPSTREAM_HOST), { recursive: true });
      writeFileSync(path.join(hostsDir, UPSTREAM_HOST, 'hosts.toml'), ['server = "http://127.0.0.1:1"', '', `[host."http://${berth?.host}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n'));
      const image = `${UPSTREAM_HOST}/team/ctr-only:v1`;
      const pulled = await run('ctr', ['-a', cd.socket, '-n', 'e2e', 'images', 'pull', '--hosts-dir', hostsDir, image], { timeoutMs: 120_000 });
      assert.equal(pulled.code, 0, describeRun(pulled));
      const listed = await cd.ctr(['images', 'ls']);
      const line = listed.stdout.split('\n').find((row) => row.startsWith(`${image} `)) ?? '';
      assert.ok(line.includes(digestOf(fx.get('oci-image'))), `${round}: ctr has ${image} at the upstream's digest:\n${listed.stdout}`);
      const exported = path.join(work, `ctr-export-${round}`);
      mkdirSync(exported, { recursive: true });
      await cd.ctr(['images', 'export', '--platform', 'linux/amd64', path.join(exported, 'image.tar'), image]);
      await runOk('tar', ['-xf', path.join(exported, 'image.tar'), '-C', exported]);
      assert.deepEqual(await checkImageFiles(ociLayout(exported), fx.contentsOf('oci-image'), path.join(exported, 'unpacked')), [], `${round}: the files ctr pulled`);
    } finally {
      await cd.stop();
    }
  };

  /** podman (its own store each time) pulls an official image of the upstream's host through a [[registry.mirror]]. */
  const podmanPull = async (round: string): Promise<void> => {
    const conf = path.join(work, 'podman-mirror-registries.conf');
    writeFileSync(conf, ['unqualified-search-registries = []', '', '[[registry]]', `prefix = "${UPSTREAM_HOST}"`, 'location = "127.0.0.1:1"', 'insecure = true', '', '[[registry.mirror]]', `location = "${berth?.host}"`, 'insecure = true', ''].join('\n'));
    const image = `${UPSTREAM_HOST}/library/podman-only:v1`;
    await clients.podman(['pull', '-q', image], { env: { CONTAINERS_REGISTRIES_CONF: conf }, store: `mirror-${round}` });
    const inspected = await clients.podman(['image', 'inspect', '--format', '{{.Digest}}', image], { env: { CONTAINERS_REGISTRIES_CONF: conf }, store: `mirror-${round}` });
    assert.equal(inspected.stdout.trim(), digestOf(fx.get('docker-v2s2')), `${round}: podman's digest`);
    const saved = path.join(work, `podman-save-${round}`);
    await clients.podman(['save', '-q', '--format', 'oci-dir', '-o', saved, image], { env: { CONTAINERS_REGISTRIES_CONF: conf }, store: `mirror-${round}` });
    assert.deepEqual(await checkImageFiles(ociLayout(saved), fx.contentsOf('docker-v2s2'), path.join(saved, '..', `podman-unpacked-${round}`)), [], `${round}: the files podman pulled`);
  };

  /** dockerd (fresh data root each time) pulls docker-only:v1 (docker.io/library/…) through registry-mirrors; its fallback goes to a dead proxy. */
  const dockerdPull = async (round: string): Promise<void> => {
    const cd = await startContainerd(path.join(work, `dockerd-cd-${round}`), path.join(short, `m${round.slice(0, 1)}`));
    try {
      const dk = await startDockerd(path.join(work, `dockerd-${round}`), path.join(short, `d${round.slice(0, 1)}`), cd.socket, berth?.host ?? '', clients.env, { registryMirrors: [`http://${berth?.host}`], proxy: 'http://127.0.0.1:1' });
      try {
        await dk.docker(['pull', '-q', 'docker-only:v1'], { timeoutMs: 180_000 });
        const digests = await dk.docker(['image', 'inspect', '--format', '{{join .RepoDigests " "}}', 'docker-only:v1']);
        assert.match(digests.stdout, new RegExp(`@${digestOf(fx.get('docker-v2s2'))}`), `${round}: dockerd's digest`);
        const saved = path.join(work, `docker-save-${round}`);
        mkdirSync(saved, { recursive: true });
        await dk.docker(['save', '-o', path.join(saved, 'image.tar'), 'docker-only:v1']);
        await runOk('tar', ['-xf', path.join(saved, 'image.tar'), '-C', saved]);
        const layers = (JSON.parse(readFileSync(path.join(saved, 'manifest.json'), 'utf8')) as { Layers: string[] }[])[0]?.Layers ?? [];
        await unpackLayers(layers.map((layer) => path.join(saved, layer)), path.join(saved, 'rootfs'));
        assert.deepEqual(await checkFiles(path.join(saved, 'rootfs'), fx.contentsOf('docker-v2s2')), [], `${round}: the files dockerd pulled`);
      } finally {
        await dk.stop();
      }
    } finally {
      await cd.stop();
    }
  };

  await test('containerd with a hosts.toml mirror (?ns=<upstream host>) pulls a name of the upstream through Berth', async () => {
    assert.equal(await isCached('mirror/team/ctr-only'), false, 'not cached before');
    await ctrPull('cold');
    assert.equal(await isCached('mirror/team/ctr-only'), true, 'cached under the namespace ?ns= selected');
  });

  await test('podman with a [[registry.mirror]] (no ?ns=) pulls an official image through Berth (unprefixed, library)', async () => {
    assert.equal(await isCached('mirror/library/podman-only'), false, 'not cached before');
    await podmanPull('cold');
    assert.equal(await isCached('mirror/library/podman-only'), true, 'cached as mirror/library/podman-only');
  });

  await test('dockerd with registry-mirrors pulls an official image (docker-only:v1, i.e. docker.io/library/…) through Berth', async () => {
    assert.equal(await isCached('mirror/library/docker-only'), false, 'not cached before');
    await dockerdPull('cold');
    assert.equal(await isCached('mirror/library/docker-only'), true, 'cached as mirror/library/docker-only');
  });

  await test('with the upstream stopped, containerd, podman and dockerd pull the same images again, from the cache alone', async () => {
    await upstream?.stop();
    upstream = undefined;
    await ctrPull('warm');
    await podmanPull('warm');
    await dockerdPull('warm');
  });
});
