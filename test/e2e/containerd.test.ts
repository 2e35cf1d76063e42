// containerd 1.6 (ctr) against the registry: import OCI layout tars and push them (ctr pushes
// with POST → PUT carrying the whole blob), pull images pushed by skopeo (one platform, and
// --all-platforms), and push a pulled image to another repo (cross-repo mount).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, type Containerd } from './harness/containerd.js';
import { runOk } from './harness/exec.js';
import { digestOf } from './harness/fixtures.js';
import { checkBlobs, checkImageFiles, ociLayout } from './harness/image-layout.js';
import { FILE_TIMEOUT_MS, startSuite, stopSuite, type Suite } from './harness/suite.js';

let s: Suite;
let cd: Containerd;

await describe('containerd (ctr)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    s = await startSuite('containerd');
    cd = await startContainerd(s.work, s.short);
    s.onStop(() => cd.stop());
  });
  after(async () => {
    await stopSuite(s);
  });

  /** `ctr images ls` → digest of `ref`. */
  async function imageDigest(ref: string): Promise<string | undefined> {
    const out = (await cd.ctr(['images', 'ls'])).stdout;
    for (const line of out.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[0] === ref) return cols[2];
    }
    return undefined;
  }

  /** `ctr images export` of `ref` into an OCI layout folder; returns it. */
  async function exportLayout(ref: string, allPlatforms: boolean): Promise<string> {
    const tar = s.file('exports', `${ref.replace(/[/:@]/g, '_')}.tar`);
    const dir = tar.replace(/\.tar$/, '');
    mkdirSync(dir, { recursive: true });
    await cd.ctr(['images', 'export', ...(allPlatforms ? ['--all-platforms'] : ['--platform', 'linux/amd64']), tar, ref]);
    await runOk('tar', ['-xf', tar, '-C', dir]);
    return dir;
  }

  await describe('ctr images import --all-platforms + push --plain-http', async () => {
    for (const name of ['oci-image', 'oci-index', 'big-layer', 'many-layers', 'buildah-index']) {
      await test(`${name}: the pushed manifest has the fixture digest, every blob is there`, async () => {
        const f = s.fx.get(name);
        const tar = s.file('layouts', `${name}.tar`);
        mkdirSync(path.dirname(tar), { recursive: true });
        await runOk('tar', ['-cf', tar, '-C', f.path, '.']);
        const base = `${s.reg.host}/ctr/${name}`;
        await cd.ctr(['images', 'import', '--all-platforms', '--base-name', base, tar], { timeoutMs: 300_000 });
        await cd.ctr(['images', 'push', '--plain-http', `${base}:latest`], { timeoutMs: 300_000 });
        assert.equal(await imageDigest(`${base}:latest`), digestOf(f));
        const stored = await s.api.getManifest(`ctr/${name}`, 'latest');
        assert.equal(stored.status, 200);
        assert.ok(stored.body.equals(s.fx.image(name).read(digestOf(f))), 'stored manifest bytes are the fixture bytes');
        assert.deepEqual(await s.api.checkImage(`ctr/${name}`, digestOf(f)), []);
      });
    }
  });

  await describe('ctr images pull --plain-http', async () => {
    before(async () => {
      for (const name of ['docker-v2s2', 'oci-index', 'umoci-image', 'big-layer']) {
        await s.clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--dest-tls-verify=false', s.fx.get(name).ref, `docker://${s.reg.host}/src/${name}:v1`]);
      }
    });

    for (const name of ['docker-v2s2', 'umoci-image', 'big-layer']) {
      await test(`${name}: pull and unpack, same digest, exported files match`, async () => {
        const ref = `${s.reg.host}/src/${name}:v1`;
        await cd.ctr(['images', 'pull', '--plain-http', ref], { timeoutMs: 300_000 });
        assert.equal(await imageDigest(ref), digestOf(s.fx.get(name)));
        const layout = ociLayout(await exportLayout(ref, false));
        assert.equal(layout.topDigest, digestOf(s.fx.get(name)));
        assert.deepEqual(await checkBlobs(layout), []);
        assert.deepEqual(await checkImageFiles(layout, s.fx.contentsOf(name), s.file('unpacked', name)), []);
      });
    }

    await test('oci-index --all-platforms: every platform is fetched whole', async () => {
      const f = s.fx.get('oci-index');
      const ref = `${s.reg.host}/src/oci-index:v1`;
      await cd.ctr(['images', 'pull', '--plain-http', '--all-platforms', ref]);
      assert.equal(await imageDigest(ref), digestOf(f));
      const layout = ociLayout(await exportLayout(ref, true));
      assert.equal(layout.topDigest, digestOf(f));
      assert.deepEqual(await checkBlobs(layout), []);
      assert.deepEqual(await checkImageFiles(layout, s.fx.contentsOf('oci-index'), s.file('unpacked', 'oci-index-all')), []);
    });

    await test('tag a pulled image into another repo and push it (mount from the source repo)', async () => {
      const src = `${s.reg.host}/src/umoci-image:v1`;
      const dst = `${s.reg.host}/ctr-copy/umoci-image:v1`;
      await cd.ctr(['images', 'tag', '--force', src, dst]);
      await cd.ctr(['images', 'push', '--plain-http', dst]);
      const digest = digestOf(s.fx.get('umoci-image'));
      assert.deepEqual(await s.api.tags('ctr-copy/umoci-image'), ['v1']);
      assert.deepEqual(await s.api.checkImage('ctr-copy/umoci-image', digest), []);
    });
  });
});
