// buildah 1.28 and podman 4.3 (vfs stores as root) against the registry: build from scratch
// and push in both formats, pull back into a fresh store and compare files, pick a platform
// out of an index, push a manifest list, and podman pull/push/inspect/mount/search.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MT, parseJson, platformOf, sha256, type Manifest } from './harness/digests.js';
import { digestOf } from './harness/fixtures.js';
import { checkFiles, type ContentRow } from './harness/image-layout.js';
import { FILE_TIMEOUT_MS, startSuite, stopSuite, type Suite } from './harness/suite.js';

let s: Suite;
/** Files of the image built from scratch in this run, as content rows. */
let built: ContentRow[];
let srcDir: string;

await describe('buildah and podman', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    s = await startSuite('buildah-podman');
    srcDir = s.file('build-src');
    mkdirSync(path.join(srcDir, 'app'), { recursive: true });
    writeFileSync(path.join(srcDir, 'app', 'hello.txt'), `built from scratch by the Berth e2e suite at ${new Date().toISOString()}\n`);
    writeFileSync(path.join(srcDir, 'app', 'data.bin'), Buffer.alloc(300_000, 'berth-e2e-'));
    built = ['app/hello.txt', 'app/data.bin'].map((p) => ({
      name: 'built',
      platform: 'linux/amd64',
      path: p,
      sha256: sha256(readFileSync(path.join(srcDir, p))).slice('sha256:'.length),
    }));
    for (const name of ['oci-image', 'oci-index']) {
      await s.clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--dest-tls-verify=false', s.fx.get(name).ref, `docker://${s.reg.host}/seed/${name}:v1`]);
    }
  });
  after(async () => {
    await stopSuite(s);
  });

  const ref = (repo: string, tag = '1'): string => `${s.reg.host}/${repo}:${tag}`;

  /** Reads a --digestfile and checks it names the manifest now stored under `repo:tag`. */
  async function assertDigestFile(file: string, repo: string, tag: string): Promise<{ digest: string; manifest: Manifest }> {
    const digest = readFileSync(file, 'utf8').trim();
    const bytes = await s.api.manifestBytes(repo, tag);
    assert.equal(sha256(bytes), digest, `--digestfile names the manifest stored under ${repo}:${tag}`);
    assert.deepEqual(await s.api.checkImage(repo, digest), []);
    return { digest, manifest: parseJson<Manifest>(bytes) };
  }

  /** `buildah from IMG; buildah mount` in `store`, then compares files with `rows`. */
  async function assertBuildahFiles(store: string, image: string, rows: readonly ContentRow[]): Promise<void> {
    const ctr = (await s.clients.buildah(['from', '--pull=never', image], { store })).stdout.trim();
    const mnt = (await s.clients.buildah(['mount', ctr], { store })).stdout.trim();
    try {
      assert.deepEqual(await checkFiles(mnt, rows), [], `files of ${image} mounted at ${mnt}`);
    } finally {
      await s.clients.buildah(['umount', ctr], { store });
      await s.clients.buildah(['rm', ctr], { store });
    }
  }

  await describe('buildah', async () => {
    for (const format of ['oci', 'docker'] as const) {
      await test(`from scratch, commit --format ${format}, push: --digestfile names the stored manifest`, async () => {
        const ctr = (await s.clients.buildah(['from', 'scratch'])).stdout.trim();
        await s.clients.buildah(['copy', '-q', ctr, path.join(srcDir, 'app'), '/app']);
        await s.clients.buildah(['config', '--cmd', '/app/hello.txt', '--arch', 'amd64', '--os', 'linux', '--label', `e2e.format=${format}`, ctr]);
        await s.clients.buildah(['commit', '-q', '--format', format, '--timestamp', '0', ctr, `localhost/e2e/built-${format}:1`]);
        await s.clients.buildah(['rm', ctr]);
        const file = s.file(`built-${format}.digest`);
        await s.clients.buildah(['push', '-q', '--tls-verify=false', '--digestfile', file, `localhost/e2e/built-${format}:1`, `docker://${ref(`buildah/built-${format}`)}`]);
        const { manifest } = await assertDigestFile(file, `buildah/built-${format}`, '1');
        assert.equal(manifest.mediaType, format === 'oci' ? MT.ociManifest : MT.dockerManifest);
      });

      await test(`pull the ${format} image back into a fresh store: same digest, same files`, async () => {
        const store = `pull-${format}`;
        const image = ref(`buildah/built-${format}`);
        await s.clients.buildah(['pull', '-q', '--tls-verify=false', image], { store });
        const digest = sha256(await s.api.manifestBytes(`buildah/built-${format}`, '1'));
        const info = (await s.clients.buildah(['inspect', '--type', 'image', '--format', '{{.FromImageDigest}}', image], { store })).stdout.trim();
        assert.equal(info, digest, 'buildah inspect FromImageDigest');
        await assertBuildahFiles(store, image, built);
      });
    }

    await test('pull --arch arm64 --variant v8 out of an OCI index picks the arm64 child', async () => {
      const f = s.fx.get('oci-index');
      const index = parseJson<Manifest>(s.fx.image('oci-index').read(digestOf(f)));
      const arm = index.manifests?.find((d) => platformOf(d) === 'linux/arm64/v8');
      assert.ok(arm, 'fixture index has linux/arm64/v8');
      const store = 'pull-arm64';
      const image = ref('seed/oci-index', 'v1');
      await s.clients.buildah(['pull', '-q', '--tls-verify=false', '--arch', 'arm64', '--variant', 'v8', image], { store });
      const info = (await s.clients.buildah(['inspect', '--type', 'image', '--format', '{{.FromImageDigest}}', image], { store })).stdout.trim();
      assert.equal(info, arm.digest);
      await assertBuildahFiles(store, image, s.fx.contentsOf('oci-index').filter((r) => r.platform === 'linux/arm64/v8'));
    });

    await test('manifest create/add/push --all: the list and every child land in the repo', async () => {
      const f = s.fx.get('oci-index');
      const index = parseJson<Manifest>(s.fx.image('oci-index').read(digestOf(f)));
      const arm = index.manifests?.find((d) => platformOf(d) === 'linux/arm64/v8');
      assert.ok(arm);
      const list = 'localhost/e2e/list:1';
      await s.clients.buildah(['manifest', 'create', list]);
      await s.clients.buildah(['manifest', 'add', '--tls-verify=false', list, `docker://${ref('buildah/built-oci')}`]);
      await s.clients.buildah(['manifest', 'add', '--tls-verify=false', '--arch', 'arm64', '--variant', 'v8', list, `docker://${s.reg.host}/seed/oci-index@${arm.digest}`]);
      const file = s.file('list.digest');
      await s.clients.buildah(['manifest', 'push', '-q', '--all', '--tls-verify=false', '--digestfile', file, list, `docker://${ref('buildah/list')}`]);
      const { manifest } = await assertDigestFile(file, 'buildah/list', '1');
      // buildah 1.28 writes a Docker list even for OCI children (client habit, see real-clients.md).
      assert.ok(manifest.mediaType === MT.dockerList || manifest.mediaType === MT.ociIndex, `list media type ${manifest.mediaType}`);
      const children = (manifest.manifests ?? []).map((d) => d.digest);
      assert.ok(children.includes(arm.digest), `list holds the arm64 child ${arm.digest}: ${children.join(', ')}`);
      assert.equal(children.length, 2);
    });
  });

  await describe('podman', async () => {
    await test('pull: image inspect shows the fixture digest, image mount shows its files', async () => {
      const f = s.fx.get('oci-image');
      const image = ref('seed/oci-image', 'v1');
      await s.clients.podman(['pull', '-q', '--tls-verify=false', image]);
      const digest = (await s.clients.podman(['image', 'inspect', '--format', '{{.Digest}}', image])).stdout.trim();
      assert.equal(digest, digestOf(f));
      const mnt = (await s.clients.podman(['image', 'mount', image])).stdout.trim();
      try {
        assert.deepEqual(await checkFiles(mnt, s.fx.contentsOf('oci-image')), []);
      } finally {
        await s.clients.podman(['image', 'unmount', image]);
      }
    });

    await test('push to another repo: --digestfile names the stored manifest, same config', async () => {
      const source = parseJson<Manifest>(s.fx.image('oci-image').read(digestOf(s.fx.get('oci-image'))));
      const file = s.file('podman-push.digest');
      await s.clients.podman(['push', '-q', '--tls-verify=false', '--digestfile', file, ref('seed/oci-image', 'v1'), `docker://${ref('podman/pushed')}`]);
      const { manifest } = await assertDigestFile(file, 'podman/pushed', '1');
      assert.equal(manifest.config?.digest, source.config?.digest, 'config (image id) is unchanged');
    });

    await test('search --list-tags reads the tags, search reads the catalog', async () => {
      // podman 4.3 prints a NAME/TAG table for --list-tags whatever --format says.
      const tags = await s.clients.podman(['search', '--tls-verify=false', '--list-tags', `${s.reg.host}/seed/oci-image`]);
      const rows = tags.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
      assert.deepEqual(rows, [[`${s.reg.host}/seed/oci-image`, 'v1']], tags.stdout);
      const found = await s.clients.podman(['search', '--tls-verify=false', '--format', '{{.Name}}', `${s.reg.host}/seed`]);
      const names = found.stdout.trim().split('\n').sort();
      assert.deepEqual(names, [`${s.reg.host}/seed/oci-image`, `${s.reg.host}/seed/oci-index`]);
    });
  });
});
