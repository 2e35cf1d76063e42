// skopeo 1.9 against the registry: copy every fixture in byte-exact, read it back
// (inspect, list-tags, copy to dir:/oci:), delete, and sync to a dir and to another repo.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isIndex, parseJson, platformOf, sha256, type Manifest } from './harness/digests.js';
import { describeRun } from './harness/exec.js';
import { digestOf, type Fixture } from './harness/fixtures.js';
import { checkBlobs, checkImageFiles, dirCopy, ociLayout, referencedDigests, type ImageOnDisk } from './harness/image-layout.js';
import { describeReply } from './harness/registry-api.js';
import { FILE_TIMEOUT_MS, startSuite, stopSuite, type Suite } from './harness/suite.js';

let s: Suite;
await describe('skopeo', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    s = await startSuite('skopeo');
  });
  after(async () => {
    await stopSuite(s);
  });

  const FIXED = ['oci-image', 'oci-index', 'docker-v2s2', 'docker-list', 'big-layer', 'many-layers', 'artifact', 'zstd-layer', 'plain-tar', 'skopeo-zstd', 'buildah-oci', 'buildah-docker', 'buildah-index', 'buildah-dlist', 'umoci-image'];
  const ARCHIVES = ['buildah-archive', 'skopeo-archive'];

  const docker = (repo: string, tag = 'v1'): string => `docker://${s.reg.host}/${repo}:${tag}`;

  /** skopeo copy into the registry; returns the digest skopeo wrote to --digestfile. */
  async function push(src: string, repo: string, tag: string, preserve: boolean): Promise<string> {
    const digestFile = s.file(`${repo.replace(/\//g, '_')}-${tag}.digest`);
    await s.clients.skopeo([
      'copy', '-q', '--all', ...(preserve ? ['--preserve-digests'] : []), '--dest-tls-verify=false',
      '--digestfile', digestFile, src, docker(repo, tag),
    ]);
    return readFileSync(digestFile, 'utf8').trim();
  }

  /** skopeo copy out of the registry into a fresh dir: or oci: copy. */
  async function pull(repo: string, transport: 'dir' | 'oci'): Promise<ImageOnDisk> {
    const dest = s.file('pulled', transport, repo.replace(/\//g, '_'));
    mkdirSync(path.dirname(dest), { recursive: true });
    await s.clients.skopeo([
      'copy', '-q', '--all', '--preserve-digests', '--src-tls-verify=false', docker(repo),
      transport === 'dir' ? `dir:${dest}` : `oci:${dest}:latest`,
    ]);
    return transport === 'dir' ? dirCopy(dest) : ociLayout(dest, 'latest');
  }

  async function assertSameImage(pulled: ImageOnDisk, f: Fixture): Promise<void> {
    const source = s.fx.image(f.name);
    assert.equal(pulled.topDigest, digestOf(f), `${f.name}: top manifest digest after the round trip`);
    assert.deepEqual(await checkBlobs(pulled), [], `${f.name}: blobs of the pulled copy`);
    assert.deepEqual(new Set(referencedDigests(pulled)), new Set(referencedDigests(source)), `${f.name}: referenced digests`);
  }

  async function assertFiles(img: ImageOnDisk, name: string): Promise<void> {
    const rows = s.fx.contentsOf(name);
    if (rows.length === 0) return;
    const problems = await checkImageFiles(img, rows, s.file('unpacked', name));
    assert.deepEqual(problems, [], `${name}: file contents after the round trip`);
  }

  await describe('skopeo copy --all --preserve-digests of every fixture', async () => {
    for (const name of FIXED) {
      await describe(name, async () => {
        const repo = `skopeo/${name}`;
        await test(`push ${name}: --digestfile is the fixture digest, every blob is there`, async () => {
          const f = s.fx.get(name);
          assert.equal(await push(f.ref, repo, 'v1', true), digestOf(f));
          assert.deepEqual(await s.api.checkImage(repo, 'v1'), []);
        });

        await test(`inspect --raw of ${name} gives the source manifest bytes`, async () => {
          const f = s.fx.get(name);
          const r = await s.clients.skopeo(['inspect', '--raw', '--tls-verify=false', docker(repo)]);
          const source = s.fx.image(name);
          assert.ok(r.stdoutBytes.equals(source.read(digestOf(f))), `inspect --raw differs from the source manifest:\n${r.stdout.slice(0, 2000)}`);
        });

        await test(`inspect --config --raw of ${name} gives the source config`, async (t) => {
          const f = s.fx.get(name);
          const source = s.fx.image(name);
          let m = parseJson<Manifest>(source.read(digestOf(f)));
          if (isIndex(m)) {
            const amd64 = m.manifests?.find((d) => platformOf(d) === 'linux/amd64');
            assert.ok(amd64, 'index has a linux/amd64 child');
            m = parseJson<Manifest>(source.read(amd64.digest));
          }
          const r = await s.clients.tryRun('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', docker(repo)]);
          if (r.code !== 0 && f.kind === 'artifact') {
            t.skip(`skopeo 1.9 refuses to inspect an artifact (client limit): ${r.stderr.trim()}`);
            return;
          }
          assert.equal(r.code, 0, describeRun(r));
          assert.ok(m.config, 'source manifest has a config');
          assert.equal(sha256(r.stdoutBytes), m.config.digest, `config bytes from the registry:\n${r.stdout.slice(0, 1000)}`);
        });

        await test(`copy ${name} back to dir: and oci: — same digests, same files`, async () => {
          const f = s.fx.get(name);
          const asDir = await pull(repo, 'dir');
          await assertSameImage(asDir, f);
          await assertFiles(asDir, name);
          const top = parseJson<Manifest>(s.fx.image(name).read(digestOf(f)));
          const ociTypes = top.mediaType === undefined || top.mediaType.startsWith('application/vnd.oci.');
          if (ociTypes) {
            // Docker media types would be converted by an oci: destination; OCI ones stay byte-exact.
            await assertSameImage(await pull(repo, 'oci'), f);
          }
        });
      });
    }
  });

  await describe('skopeo copy of docker-archive fixtures (the pusher picks the digest)', async () => {
    for (const name of ARCHIVES) {
      await test(`push ${name}, read it back to dir:, files match`, async () => {
        const f = s.fx.get(name);
        const repo = `skopeo/${name}`;
        const digest = await push(f.ref, repo, 'v1', false);
        assert.equal(sha256(await s.api.manifestBytes(repo, 'v1')), digest, 'digestfile names the stored manifest');
        assert.deepEqual(await s.api.checkImage(repo, digest), []);
        const pulled = await pull(repo, 'dir');
        assert.equal(pulled.topDigest, digest);
        assert.deepEqual(await checkBlobs(pulled), []);
        await assertFiles(pulled, name);
      });
    }
  });

  await describe('skopeo list-tags, delete, sync', async () => {
    await test('copy registry→registry under a second tag, list-tags shows both', async () => {
      const f = s.fx.get('oci-image');
      await push(f.ref, 'tags/oci-image', 'v1', true);
      await s.clients.skopeo(['copy', '-q', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', docker('tags/oci-image'), docker('tags/oci-image', 'v2')]);
      const r = await s.clients.skopeo(['list-tags', '--tls-verify=false', `docker://${s.reg.host}/tags/oci-image`]);
      const out = parseJson<{ Repository: string; Tags: string[] }>(r.stdout);
      assert.deepEqual([...out.Tags].sort(), ['v1', 'v2']);
      assert.equal(sha256(await s.api.manifestBytes('tags/oci-image', 'v2')), digestOf(f));
    });

    await test('delete: the manifest and its tag are gone, other tags stay', async () => {
      const repo = 'skopeo/deleteme';
      const gone = await push(s.fx.get('oci-image').ref, repo, 'doomed', true);
      const kept = await push(s.fx.get('plain-tar').ref, repo, 'kept', true);
      await s.clients.skopeo(['delete', '--tls-verify=false', docker(repo, 'doomed')]);
      const byDigest = await s.api.getManifest(repo, gone);
      assert.equal(byDigest.status, 404, describeReply(byDigest));
      const byTag = await s.api.getManifest(repo, 'doomed');
      assert.equal(byTag.status, 404, describeReply(byTag));
      assert.deepEqual(await s.api.tags(repo), ['kept']);
      assert.equal(sha256(await s.api.manifestBytes(repo, 'kept')), kept);
      const inspect = await s.clients.tryRun('skopeo', ['inspect', '--raw', '--tls-verify=false', docker(repo, 'doomed')]);
      assert.notEqual(inspect.code, 0, 'skopeo inspect of the deleted tag fails');
    });

    await test('sync --all --preserve-digests registry→dir', async () => {
      await push(s.fx.get('oci-index').ref, 'sync-src/oci-index', 'v1', true);
      const dest = s.file('sync-dir');
      mkdirSync(dest, { recursive: true });
      await s.clients.skopeo(['sync', '--all', '--preserve-digests', '--src', 'docker', '--dest', 'dir', '--src-tls-verify=false', `${s.reg.host}/sync-src/oci-index`, dest]);
      const found = readdirSync(dest, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith(`${path.sep}manifest.json`) || p === 'manifest.json');
      assert.equal(found.length, 1, `one synced image under ${dest}: ${found.join(', ')}`);
      const copy = dirCopy(path.join(dest, path.dirname(found[0] ?? '')));
      await assertSameImage(copy, s.fx.get('oci-index'));
      await assertFiles(copy, 'oci-index');
    });

    await test('sync --all --preserve-digests registry→registry (another repo)', async () => {
      await push(s.fx.get('docker-list').ref, 'sync-src/docker-list', 'v1', true);
      await s.clients.skopeo([
        'sync', '--all', '--preserve-digests', '--src', 'docker', '--dest', 'docker', '--src-tls-verify=false', '--dest-tls-verify=false',
        `${s.reg.host}/sync-src/docker-list`, `${s.reg.host}/synced`,
      ]);
      const repos = (await s.api.catalog()).filter((r) => r.startsWith('synced/'));
      assert.deepEqual(repos, ['synced/docker-list']);
      assert.deepEqual(await s.api.tags('synced/docker-list'), ['v1']);
      assert.equal(sha256(await s.api.manifestBytes('synced/docker-list', 'v1')), digestOf(s.fx.get('docker-list')));
      assert.deepEqual(await s.api.checkImage('synced/docker-list', 'v1'), []);
    });
  });
});
