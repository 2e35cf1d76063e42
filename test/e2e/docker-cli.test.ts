// The docker CLI with no daemon: `docker manifest inspect --insecure [-v]` of an image and an
// index, and `manifest create --amend` + `manifest push --purge` of a list made from images in
// other repos (the push cross-repo mounts every blob and has no fallback if a mount is refused).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MT, parseJson, platformOf, sha256, type Descriptor, type Manifest } from './harness/digests.js';
import { digestOf } from './harness/fixtures.js';
import { FILE_TIMEOUT_MS, startSuite, stopSuite, type Suite } from './harness/suite.js';

let s: Suite;
await describe('docker CLI (no daemon)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    s = await startSuite('docker-cli');
    for (const name of ['oci-image', 'oci-index', 'docker-v2s2', 'docker-list']) {
      await s.clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--dest-tls-verify=false', s.fx.get(name).ref, `docker://${s.reg.host}/dcli/${name}:v1`]);
    }
  });
  after(async () => {
    await stopSuite(s);
  });

  interface VerboseEntry {
    Ref: string;
    Descriptor: Descriptor;
  }

  function fixtureManifest(name: string): Manifest {
    return parseJson<Manifest>(s.fx.image(name).read(digestOf(s.fx.get(name))));
  }

  function childFor(name: string, platform: string): Descriptor {
    const d = fixtureManifest(name).manifests?.find((m) => platformOf(m) === platform);
    if (!d) throw new Error(`${name} has no ${platform} child`);
    return d;
  }

  await describe('docker manifest inspect --insecure', async () => {
    for (const name of ['oci-image', 'docker-v2s2']) {
      await test(`image ${name}: inspect shows its layers, -v shows its digest`, async () => {
        const image = `${s.reg.host}/dcli/${name}:v1`;
        const plain = parseJson<Manifest>((await s.clients.docker(['manifest', 'inspect', '--insecure', image])).stdout);
        const source = fixtureManifest(name);
        assert.deepEqual(plain.layers?.map((l) => l.digest), source.layers?.map((l) => l.digest));
        assert.equal(plain.config?.digest, source.config?.digest);
        const verbose = parseJson<VerboseEntry>((await s.clients.docker(['manifest', 'inspect', '--insecure', '-v', image])).stdout);
        assert.equal(verbose.Descriptor.digest, digestOf(s.fx.get(name)));
      });
    }

    for (const name of ['oci-index', 'docker-list']) {
      await test(`index ${name}: inspect lists its children, -v resolves each platform`, async () => {
        const image = `${s.reg.host}/dcli/${name}:v1`;
        const source = fixtureManifest(name);
        const plain = parseJson<Manifest>((await s.clients.docker(['manifest', 'inspect', '--insecure', image])).stdout);
        assert.deepEqual(plain.manifests?.map((d) => d.digest), source.manifests?.map((d) => d.digest));
        const verbose = parseJson<VerboseEntry[]>((await s.clients.docker(['manifest', 'inspect', '--insecure', '-v', image])).stdout);
        assert.deepEqual(
          verbose.map((e) => [platformOf(e.Descriptor), e.Descriptor.digest]),
          (source.manifests ?? []).map((d) => [platformOf(d), d.digest]),
        );
      });
    }
  });

  await describe('docker manifest create --amend + push --purge', async () => {
    const cases = [
      { list: 'docker-types', amd64: ['docker-v2s2', undefined], arm64: 'docker-list' },
      { list: 'oci-types', amd64: ['oci-image', undefined], arm64: 'oci-index' },
    ] as const;
    for (const c of cases) {
      await test(`list of ${c.amd64[0]} + the arm64 child of ${c.arm64}, pushed to a third repo (cross-repo mounts)`, async () => {
        const arm = childFor(c.arm64, 'linux/arm64/v8');
        const list = `${s.reg.host}/dcli/list-${c.list}:1`;
        await s.clients.docker(['manifest', 'create', '--insecure', '--amend', list, `${s.reg.host}/dcli/${c.amd64[0]}:v1`, `${s.reg.host}/dcli/${c.arm64}@${arm.digest}`]);
        const pushed = await s.clients.docker(['manifest', 'push', '--insecure', '--purge', list]);
        // It prints "Pushed ref …@sha256:… with digest: sha256:…" per child, then the list digest.
        const digest = [...pushed.stdout.matchAll(/sha256:[0-9a-f]{64}/g)].pop()?.[0];
        assert.ok(digest, `manifest push prints the digest:\n${pushed.stdout}\n${pushed.stderr}`);
        const bytes = await s.api.manifestBytes(`dcli/list-${c.list}`, '1');
        assert.equal(sha256(bytes), digest);
        const m = parseJson<Manifest>(bytes);
        assert.ok(m.mediaType === MT.dockerList || m.mediaType === MT.ociIndex, `media type ${m.mediaType}`);
        // The CLI does not keep the order of its arguments.
        assert.deepEqual(
          (m.manifests ?? []).map((d) => [platformOf(d), d.digest]).sort(),
          [
            ['linux/amd64', digestOf(s.fx.get(c.amd64[0]))],
            ['linux/arm64/v8', arm.digest],
          ],
        );
        assert.deepEqual(await s.api.checkImage(`dcli/list-${c.list}`, digest), []);
      });
    }
  });
});
