// Three Berth instances behind Debian's HAProxy (round robin, no affinity, health checks on /readyz)
// over one radosgw bucket and one PostgreSQL database: skopeo, podman, buildah, ctr, the docker CLI
// and dockerd push and pull through the balancer (every request of a push may land on another
// instance), then a kill -9 of one instance in
// the middle of concurrent pushes, after which every acknowledged blob and tag is served intact and
// pushing goes on through the two that are left.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { content, ociManifest, randomContent, type Content, type ManifestBody } from '../support/content.js';
import { startScaleOut, type ScaleOut } from '../support/scale-out.js';
import { makeClients, type Clients } from './harness/clients.js';
import { startContainerd } from './harness/containerd.js';
import { startDockerd } from './harness/dockerd.js';
import { digestOf } from './harness/fixtures.js';
import { startLoadBalancer, type LoadBalancer } from './harness/load-balancer.js';
import { FILE_TIMEOUT_MS, startSuite, stopSuite, type Suite } from './harness/suite.js';

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Acknowledged {
  readonly repository: string;
  readonly tag: string;
  readonly manifest: ManifestBody;
  readonly blobs: readonly Content[];
}

/** A blob by POST, one PATCH with all of it, PUT ?digest: three requests, any instance each. */
async function pushChunked(url: string, repository: string, blob: Content): Promise<void> {
  const started = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await started.arrayBuffer();
  if (started.status !== 202) throw new Error(`POST upload: ${started.status}`);
  const location = new URL(started.headers.get('location') ?? '', url);
  const patched = await fetch(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(blob.bytes) });
  await patched.arrayBuffer();
  if (patched.status !== 202) throw new Error(`PATCH: ${patched.status}`);
  const next = new URL(patched.headers.get('location') ?? '', url);
  next.searchParams.set('digest', blob.digest);
  const put = await fetch(next, { method: 'PUT' });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`PUT: ${put.status}`);
}

/** Pushes an image (a chunked 1–2 MiB layer, a small one, a config) and its tag; resolves once acknowledged. */
async function pushImage(url: string, repository: string, tag: string): Promise<Acknowledged> {
  const config = content(JSON.stringify({ architecture: 'amd64', os: 'linux', label: `${repository}:${tag}`, rootfs: { type: 'layers', diff_ids: [] } }));
  const layers = [randomContent(1024 * 1024 + Math.floor(Math.random() * 1024 * 1024)), content(`${repository}:${tag} small layer ${Math.random()}`)];
  for (const blob of [config, ...layers]) await pushChunked(url, repository, blob);
  const manifest = ociManifest({ config, layers });
  const put = await fetch(`${url}/v2/${repository}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': manifest.mediaType }, body: new Uint8Array(manifest.bytes) });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status}`);
  return { repository, tag, manifest, blobs: [config, ...layers] };
}

let s: Suite;
let cluster: ScaleOut;
let lb: LoadBalancer;
let clients: Clients;
await describe('three instances behind HAProxy (radosgw + PostgreSQL)', { timeout: FILE_TIMEOUT_MS }, () => {
  before(async () => {
    // The suite's own single registry is not used here; its fixtures, work dir and clean-up are.
    s = await startSuite('scale-out');
    cluster = await startScaleOut('e2e-scale', 3);
    lb = await startLoadBalancer(s.work, cluster.instances.map((instance) => new URL(instance.url).host));
    clients = makeClients(s.file('lb'), s.short, lb.host, true);
  });
  after(async () => {
    await lb?.stop();
    await cluster?.close();
    await stopSuite(s);
  });

  test('skopeo copies fixtures in and out through the balancer, byte-exact', async () => {
    for (const name of ['oci-image', 'oci-index', 'big-layer']) {
      const fixture = s.fx.get(name);
      const digestFile = s.file(`${name}.digest`);
      await clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--dest-tls-verify=false', '--digestfile', digestFile, fixture.ref, `docker://${lb.host}/lb/${name}:v1`]);
      assert.equal(readFileSync(digestFile, 'utf8').trim(), digestOf(fixture), `${name}: pushed digest`);
      const inspected = JSON.parse((await clients.skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${lb.host}/lb/${name}:v1`])).stdout) as object;
      assert.ok(inspected !== null);
      mkdirSync(s.file('pulled'), { recursive: true });
      await clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${lb.host}/lb/${name}:v1`, `dir:${s.file('pulled', name)}`]);
      const manifest = readFileSync(s.file('pulled', name, 'manifest.json'));
      assert.equal(sha256(manifest), digestOf(fixture), `${name}: pulled manifest`);
    }
  });

  test('podman pushes and pulls through the balancer', async () => {
    const source = `${lb.host}/lb/oci-image:v1`;
    await clients.podman(['pull', '-q', '--tls-verify=false', source]);
    const digestFile = s.file('podman.digest');
    await clients.podman(['push', '-q', '--tls-verify=false', '--digestfile', digestFile, source, `docker://${lb.host}/lb/podman:v1`]);
    const pushed = readFileSync(digestFile, 'utf8').trim();
    const head = await fetch(`${lb.url}/v2/lb/podman/manifests/v1`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), pushed);
    await clients.podman(['rmi', '-f', source]);
    await clients.podman(['pull', '-q', '--tls-verify=false', `${lb.host}/lb/podman:v1`]);
  });

  /** The digest the balancer serves for a tag (HEAD, any instance). */
  const servedDigest = async (repository: string, tag: string): Promise<string | null> => {
    const head = await fetch(`${lb.url}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(head.status, 200, `${repository}:${tag}`);
    return head.headers.get('docker-content-digest');
  };

  test('buildah, the docker CLI, ctr and dockerd push and pull through the balancer', async () => {
    const source = `${lb.host}/lb/oci-image:v1`;
    const digestFile = s.file('buildah.digest');
    await clients.buildah(['pull', '-q', '--tls-verify=false', source]);
    await clients.buildah(['push', '-q', '--tls-verify=false', '--digestfile', digestFile, source, `docker://${lb.host}/lb/buildah:v1`]);
    assert.equal(await servedDigest('lb/buildah', 'v1'), readFileSync(digestFile, 'utf8').trim(), 'buildah push');

    const inspected = await clients.docker(['manifest', 'inspect', '--insecure', `${lb.host}/lb/buildah:v1`]);
    assert.match(inspected.stdout, /"layers"/, 'docker manifest inspect (the CLI alone)');

    const cd = await startContainerd(s.file('containerd'), path.join(s.short, 'lbc'));
    try {
      await cd.ctr(['images', 'pull', '--plain-http', '--all-platforms', `${lb.host}/lb/oci-index:v1`], { timeoutMs: 120_000 });
      await cd.ctr(['images', 'tag', `${lb.host}/lb/oci-index:v1`, `${lb.host}/lb/ctr:v1`]);
      await cd.ctr(['images', 'push', '--plain-http', `${lb.host}/lb/ctr:v1`], { timeoutMs: 120_000 });
      assert.equal(await servedDigest('lb/ctr', 'v1'), digestOf(s.fx.get('oci-index')), 'ctr pushed the index as pulled');

      const dk = await startDockerd(s.file('dockerd'), path.join(s.short, 'lbd'), cd.socket, lb.host, clients.env);
      try {
        await dk.docker(['pull', '-q', source], { timeoutMs: 180_000 });
        await dk.docker(['tag', source, `${lb.host}/lb/dockerd:v1`]);
        const pushed = await dk.docker(['push', `${lb.host}/lb/dockerd:v1`], { timeoutMs: 180_000 });
        const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
        assert.ok(digest !== undefined, pushed.stdout);
        assert.equal(await servedDigest('lb/dockerd', 'v1'), digest, 'dockerd push');
      } finally {
        await dk.stop();
      }
    } finally {
      await cd.stop();
    }
  });

  test('kill -9 of one instance during concurrent pushes: every acknowledged blob and tag is intact, pushing goes on', async (t) => {
    const acknowledged: Acknowledged[] = [];
    let failures = 0;
    const kill: { at?: number } = {};
    const afterKill = (): number => acknowledged.filter((image) => kill.at !== undefined && Number(image.tag.split('-')[2]) > kill.at).length;
    const WORKERS = 4;
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const tag = `w${w}-${i}-${Date.now()}`;
        try {
          acknowledged.push(await pushImage(lb.url, `kill/w${w}`, tag));
        } catch {
          failures++; // a request the killed instance held, or sent to it before HAProxy saw it down
        }
      }
    };
    const running = Array.from({ length: WORKERS }, (_, w) => worker(w));
    const deadline = Date.now() + 240_000;
    const wait = async (what: string, done: () => boolean): Promise<void> => {
      while (!done()) {
        if (Date.now() > deadline) {
          stop = true;
          await Promise.all(running);
          throw new Error(`timed out: ${what} (${acknowledged.length} acknowledged, ${failures} failed)`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await wait('pushes before the kill', () => acknowledged.length >= 8);
    const victim = cluster.instances[1];
    assert.ok(victim !== undefined);
    await victim.stop('SIGKILL');
    kill.at = Date.now();
    await wait('pushes after the kill', () => afterKill() >= 8);
    stop = true;
    await Promise.all(running);
    for (const image of acknowledged) {
      const got = await fetch(`${lb.url}/v2/${image.repository}/manifests/${image.tag}`, { headers: { Accept: image.manifest.mediaType } });
      assert.equal(got.status, 200, `${image.repository}:${image.tag}`);
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), image.manifest.digest, `${image.repository}:${image.tag}: manifest bytes`);
      for (const blob of image.blobs) {
        const bytes = await fetch(`${lb.url}/v2/${image.repository}/blobs/${blob.digest}`);
        assert.equal(bytes.status, 200);
        assert.equal(sha256(Buffer.from(await bytes.arrayBuffer())), blob.digest, `${image.repository}: blob ${blob.digest}`);
      }
    }
    // The last pushes went through the two instances left.
    assert.ok(afterKill() >= 8);
    t.diagnostic(`${acknowledged.length} images acknowledged (${afterKill()} after the kill), ${failures} pushes failed around it`);
  });
});
