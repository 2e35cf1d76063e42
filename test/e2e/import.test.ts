// berth import from Debian's docker-registry 2.8.2: real clients populate it (skopeo: OCI images and
// indexes, Docker schema2 and manifest lists, an OCI artifact with a subject and its cosign-style
// tag, an untagged manifest, a deleted manifest with its tag, an unfinished upload), the import runs
// while 2.8.2 still serves, then everything is pulled back from Berth with skopeo and compared with
// what 2.8.2 serves: catalog, tag lists, manifest bytes by tag and digest, blobs, file contents,
// referrers. ctr pushes too: a multi-arch OCI index (`ctr images import --all-platforms`, then
// `ctr images push`), pulled back from Berth with ctr (--all-platforms) and skopeo, digests compared;
// and buildah: an image from its own store (layers it compressed itself), pulled back from Berth by
// buildah into a fresh store, digest and files compared.
// A second pass after one more push imports only that repository.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, type Containerd } from './harness/containerd.js';
import { parseJson, sha256 } from './harness/digests.js';
import { runOk } from './harness/exec.js';
import { digestOf, loadFixtures, type Fixtures } from './harness/fixtures.js';
import { checkBlobs, checkFiles, checkImageFiles, dirCopy, referencedDigests } from './harness/image-layout.js';
import { makeClients, type Clients } from './harness/clients.js';
import { freshShortDir, freshWorkDir, repoRoot } from './harness/paths.js';
import { RegistryApi } from './harness/registry-api.js';
import { startRegistry, type Registry } from './harness/registry-process.js';
import { FILE_TIMEOUT_MS } from './harness/suite.js';
import { rmSync } from 'node:fs';

interface Report {
  repositories: { total: number; imported: number; unchanged: number; withRefusals: number };
  manifests: number;
  blobs: { hardLinked: number; copied: number };
  unfinishedUploadsSkipped: number;
  refusals: unknown[];
}

const PUSHED: readonly [fixture: string, repository: string, tag: string][] = [
  ['oci-image', 'imp/oci-image', 'v1'],
  ['oci-index', 'imp/oci-index', 'v1'],
  ['docker-v2s2', 'imp/docker-v2s2', 'v1'],
  ['docker-list', 'imp/docker-list', 'v1'],
  ['buildah-index', 'imp/buildah-index', 'v1'],
  ['buildah-dlist', 'imp/buildah-dlist', 'v1'],
  ['many-layers', 'imp/nested/many-layers', 'v1'],
  ['big-layer', 'imp/big-layer', 'v1'],
  ['artifact', 'imp/oci-image', 'artifact'],
  // Untagged: docker-v2s2 is pushed to imp/moving:v1, then oci-image takes the tag.
  ['docker-v2s2', 'imp/moving', 'v1'],
  ['oci-image', 'imp/moving', 'v1'],
  // Deleted: plain-tar's manifest (and its tag) are deleted after the push.
  ['zstd-layer', 'imp/deleted', 'v1'],
  ['plain-tar', 'imp/deleted', 'gone'],
];

/** Pushed into 2.8.2 by ctr (containerd's own push: POST, then a PUT carrying the whole blob). */
const CTR_PUSHED: readonly [fixture: string, repository: string, tag: string][] = [['oci-index', 'imp/ctr-index', 'latest']];

let cd: Containerd;
let work: string;
let short: string;
let fx: Fixtures;
let old: Registry;
let berth: Registry | undefined;
let clients: Clients;
let oldApi: RegistryApi;

const berthDir = (): string => path.join(work, 'new');
const berthConfig = (): string => path.join(berthDir(), 'registry', 'config.yml');

async function copy(from: string, to: string): Promise<void> {
  await clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', from, to]);
}

async function importNow(): Promise<Report> {
  const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const result = await runOk(process.execPath, [main, 'import', old.dataDir, berthConfig(), '--json'], { timeoutMs: 300_000 });
  return parseJson<Report>(Buffer.from(result.stdout));
}

await describe('berth import from docker-registry 2.8.2 (filesystem)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    work = freshWorkDir('import');
    short = freshShortDir();
    fx = await loadFixtures();
    old = await startRegistry(path.join(work, 'old'), 'reference');
    clients = makeClients(work, short, old.host);
    oldApi = new RegistryApi(old.url);
    for (const [fixture, repository, tag] of PUSHED) await copy(fx.get(fixture).ref, `docker://${old.host}/${repository}:${tag}`);
    await clients.skopeo(['delete', '--tls-verify=false', `docker://${old.host}/imp/deleted:gone`]);
    cd = await startContainerd(work, short);
    for (const [fixture, repository, tag] of CTR_PUSHED) {
      const tar = path.join(work, 'ctr-layouts', `${fixture}.tar`);
      mkdirSync(path.dirname(tar), { recursive: true });
      await runOk('tar', ['-cf', tar, '-C', fx.get(fixture).path, '.']);
      await cd.ctr(['images', 'import', '--all-platforms', '--base-name', `${old.host}/${repository}`, tar], { timeoutMs: 300_000 });
      await cd.ctr(['images', 'push', '--plain-http', `${old.host}/${repository}:${tag}`], { timeoutMs: 300_000 });
    }
    // buildah pushes an image of its own store: it compresses the layers itself, so the digest is
    // whatever 2.8.2 stored, not the fixture's.
    const pulledId = (await clients.buildah(['pull', '-q', '--tls-verify=false', `${old.host}/imp/oci-image:v1`])).stdout.trim();
    await clients.buildah(['push', '-q', '--tls-verify=false', pulledId, `docker://${old.host}/imp/buildah-pushed:v1`]);
    // The cosign tag schema: sha256-<hex of the subject>.sig names the signature artifact.
    await copy(fx.get('artifact').ref, `docker://${old.host}/imp/oci-image:sha256-${digestOf(fx.get('oci-image')).slice(7)}.sig`);
    // An unfinished upload: started, some bytes sent, never completed.
    const started = await oldApi.request('POST', '/v2/imp/oci-image/blobs/uploads/');
    assert.equal(started.status, 202);
    const location = started.headers.get('location') ?? '';
    const patched = await fetch(new URL(location, old.url), { method: 'PATCH', body: Buffer.from('half an upload'), headers: { 'Content-Type': 'application/octet-stream' } });
    await patched.arrayBuffer();
    assert.equal(patched.status, 202);
    // Berth's data dir and configuration: a first start writes them.
    const first = await startRegistry(berthDir(), 'berth');
    await first.stop();
  });

  after(async () => {
    await cd?.stop();
    await berth?.stop();
    await old?.stop();
    if (process.env.E2E_KEEP !== '1') {
      rmSync(work, { recursive: true, force: true });
      rmSync(short, { recursive: true, force: true });
    }
  });

  let first: Report;
  await test('the import, while 2.8.2 still serves, refuses nothing and hard-links every blob', async () => {
    first = await importNow();
    assert.deepEqual(first.refusals, []);
    assert.equal(first.repositories.total, 12);
    assert.equal(first.repositories.imported, 12);
    assert.equal(first.blobs.copied, 0);
    assert.ok(first.blobs.hardLinked > 40, `${first.blobs.hardLinked} blobs hard-linked`);
    assert.equal(first.unfinishedUploadsSkipped, 1);
    berth = await startRegistry(berthDir(), 'berth');
  });

  await test('catalog, tag lists and manifest bytes (by tag and by digest) are those 2.8.2 serves', async () => {
    assert.ok(berth);
    const api = new RegistryApi(berth.url);
    const repositories = await oldApi.catalog();
    assert.deepEqual(await api.catalog(), repositories);
    for (const repository of repositories) {
      // 2.8.2 lists tags in directory order, Berth in lexical order (the spec's): compared as sets.
      const tags = (await oldApi.tags(repository)).sort();
      assert.deepEqual(await api.tags(repository), tags, `${repository}: tag list`);
      for (const tag of tags) {
        const bytes = await oldApi.manifestBytes(repository, tag);
        assert.equal(sha256(await api.manifestBytes(repository, tag)), sha256(bytes), `${repository}:${tag}`);
        assert.deepEqual(await api.checkImage(repository, tag), [], `${repository}:${tag} is whole on Berth`);
      }
    }
    assert.deepEqual(await api.tags('imp/deleted'), ['v1']);
    assert.equal((await api.getManifest('imp/deleted', digestOf(fx.get('plain-tar')))).status, 404, 'the deleted manifest stays deleted');
    const untagged = digestOf(fx.get('docker-v2s2'));
    assert.equal(sha256(await api.manifestBytes('imp/moving', untagged)), untagged, 'the untagged manifest, by digest');
  });

  await test('skopeo pulls every image back from Berth: same digests, blobs and file contents', async () => {
    assert.ok(berth);
    for (const [fixture, repository, tag] of [...PUSHED, ...CTR_PUSHED]) {
      if (repository === 'imp/deleted' && tag === 'gone') continue;
      if (repository === 'imp/moving') continue;
      const destination = path.join(work, 'pulled', `${repository.replace(/\//g, '_')}-${tag}`);
      mkdirSync(path.dirname(destination), { recursive: true });
      await copy(`docker://${berth.host}/${repository}:${tag}`, `dir:${destination}`);
      const pulled = dirCopy(destination);
      const source = fx.image(fixture);
      assert.equal(pulled.topDigest, digestOf(fx.get(fixture)), `${fixture}: top digest`);
      assert.deepEqual(await checkBlobs(pulled), [], `${fixture}: blobs`);
      assert.deepEqual(new Set(referencedDigests(pulled)), new Set(referencedDigests(source)), `${fixture}: referenced digests`);
      if (fx.contentsOf(fixture).length > 0) {
        assert.deepEqual(await checkImageFiles(pulled, fx.contentsOf(fixture), path.join(work, 'unpacked', `${repository.replace(/\//g, '_')}-${tag}`)), [], `${fixture}: files`);
      }
    }
  });

  await test('buildah pulls the image it pushed to 2.8.2 back from Berth into a fresh store: the digest 2.8.2 serves, the fixture\'s files', async () => {
    assert.ok(berth);
    const image = `${berth.host}/imp/buildah-pushed:v1`;
    const store = 'pulled-from-berth';
    await clients.buildah(['pull', '-q', '--tls-verify=false', image], { store });
    const digest = (await clients.buildah(['inspect', '--type', 'image', '--format', '{{.FromImageDigest}}', image], { store })).stdout.trim();
    assert.equal(digest, sha256(await oldApi.manifestBytes('imp/buildah-pushed', 'v1')));
    const ctr = (await clients.buildah(['from', '--pull=never', image], { store })).stdout.trim();
    const mnt = (await clients.buildah(['mount', ctr], { store })).stdout.trim();
    try {
      assert.deepEqual(await checkFiles(mnt, fx.contentsOf('oci-image')), [], `files of ${image}`);
    } finally {
      await clients.buildah(['umount', ctr], { store });
      await clients.buildah(['rm', ctr], { store });
    }
  });

  await test('ctr pulls the index it pushed to 2.8.2 back from Berth, every platform: the same digest', async () => {
    assert.ok(berth);
    for (const [fixture, repository, tag] of CTR_PUSHED) {
      const ref: string = `${berth.host}/${repository}:${tag}`;
      await cd.ctr(['images', 'pull', '--plain-http', '--all-platforms', ref], { timeoutMs: 300_000 });
      const listed = (await cd.ctr(['images', 'ls'])).stdout.split('\n').map((line) => line.trim().split(/\s+/));
      assert.equal(listed.find((cols) => cols[0] === ref)?.[2], digestOf(fx.get(fixture)), `${ref}: the digest ctr pulled`);
      // Every platform's manifest and blobs came down (ctr checks each digest as it fetches).
      const content = (await cd.ctr(['content', 'ls'])).stdout;
      for (const digest of referencedDigests(fx.image(fixture))) assert.ok(content.includes(digest), `${digest} in containerd's content store`);
    }
  });

  await test('the artifact is a referrer of its subject on Berth', async () => {
    assert.ok(berth);
    const api = new RegistryApi(berth.url);
    const reply = await api.request('GET', `/v2/imp/oci-image/referrers/${digestOf(fx.get('oci-image'))}`);
    assert.equal(reply.status, 200);
    const index = parseJson<{ manifests: { digest: string }[] }>(reply.body);
    assert.deepEqual(index.manifests.map((m) => m.digest), [digestOf(fx.get('artifact'))]);
  });

  await test('a second pass after one more push to 2.8.2 imports only that repository', async () => {
    assert.ok(berth);
    await copy(fx.get('umoci-image').ref, `docker://${old.host}/imp/late:v1`);
    const second = await importNow();
    assert.deepEqual(second.refusals, []);
    assert.equal(second.repositories.imported, 1);
    assert.equal(second.repositories.unchanged, 12);
    assert.equal(second.manifests, 1);
    const api = new RegistryApi(berth.url);
    assert.deepEqual(await api.tags('imp/late'), ['v1']);
    assert.equal(sha256(await api.manifestBytes('imp/late', 'v1')), digestOf(fx.get('umoci-image')));
  });
});
