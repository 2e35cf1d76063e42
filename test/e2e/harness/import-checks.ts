// What the berth import e2e tests check of an imported registry against the one it came from:
// catalog, tag lists, manifest bytes by tag, then skopeo pulls every pushed image back and its top
// digest, blobs, referenced digests and file contents are compared with the fixture.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Clients } from './clients.js';
import { sha256 } from './digests.js';
import { digestOf, type Fixtures } from './fixtures.js';
import { checkBlobs, checkImageFiles, dirCopy, referencedDigests } from './image-layout.js';
import { RegistryApi } from './registry-api.js';
import type { Registry } from './registry-process.js';

export async function checkImported(options: {
  readonly from: RegistryApi;
  readonly to: Registry;
  readonly pushed: readonly (readonly [fixture: string, repository: string, tag: string])[];
  readonly fx: Fixtures;
  readonly clients: Clients;
  readonly work: string;
  readonly label: string;
}): Promise<void> {
  const { from, to, pushed, fx, clients, work, label } = options;
  const api = new RegistryApi(to.url);
  const repositories = await from.catalog();
  assert.deepEqual(await api.catalog(), repositories, `${label}: catalog`);
  for (const repository of repositories) {
    const tags = (await from.tags(repository)).sort();
    assert.deepEqual(await api.tags(repository), tags, `${label} ${repository}: tag list`);
    for (const tag of tags) {
      assert.equal(sha256(await api.manifestBytes(repository, tag)), sha256(await from.manifestBytes(repository, tag)), `${label} ${repository}:${tag}`);
    }
  }
  for (const [fixture, repository, tag] of pushed) {
    const destination = path.join(work, `pulled-${label}`, `${repository.replace(/\//g, '_')}-${tag}`);
    mkdirSync(path.dirname(destination), { recursive: true });
    await clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${to.host}/${repository}:${tag}`, `dir:${destination}`]);
    const pulled = dirCopy(destination);
    assert.equal(pulled.topDigest, digestOf(fx.get(fixture)), `${label} ${fixture}: top digest`);
    assert.deepEqual(await checkBlobs(pulled), [], `${label} ${fixture}: blobs`);
    assert.deepEqual(new Set(referencedDigests(pulled)), new Set(referencedDigests(fx.image(fixture))), `${label} ${fixture}: referenced digests`);
    if (fx.contentsOf(fixture).length > 0) {
      assert.deepEqual(await checkImageFiles(pulled, fx.contentsOf(fixture), path.join(work, `unpacked-${label}`, `${repository.replace(/\//g, '_')}-${tag}`)), [], `${label} ${fixture}: files`);
    }
  }
}
