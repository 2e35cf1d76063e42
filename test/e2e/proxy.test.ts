// The pull-through cache against a real upstream: Debian's docker-registry 2.8.2 with htpasswd
// (Basic), populated by skopeo. Berth runs with distribution's `proxy` keys (the whole registry
// mirrors it); skopeo copies images out of Berth, digests and file contents are checked, then the
// upstream is stopped and the same images are copied again from the cache alone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClients, type Clients } from './harness/clients.js';
import { describeRun } from './harness/exec.js';
import { digestOf, loadFixtures, type Fixtures } from './harness/fixtures.js';
import { checkBlobs, checkImageFiles, dirCopy } from './harness/image-layout.js';
import { freshShortDir, freshWorkDir } from './harness/paths.js';
import { RegistryApi } from './harness/registry-api.js';
import { startRegistry, type Registry } from './harness/registry-process.js';
import { FILE_TIMEOUT_MS } from './harness/suite.js';

const UPSTREAM_USER = { user: 'mirror', password: 'mirror-E2e-secret' };
const IMAGES: readonly [fixture: string, repository: string, tag: string][] = [
  ['oci-image', 'team/oci-image', 'v1'],
  ['docker-list', 'team/docker-list', 'v1'],
];

let work: string;
let short: string;
let fx: Fixtures;
let upstream: Registry | undefined;
let berth: Registry | undefined;
let clients: Clients;

const creds = `${UPSTREAM_USER.user}:${UPSTREAM_USER.password}`;

/** Copies `repository:tag` (every platform) out of Berth into a fresh `dir:` copy and checks it against the fixture. */
async function pullAndCheck(fixture: string, repository: string, tag: string, label: string): Promise<void> {
  const dest = path.join(work, `${label}-${repository.replaceAll('/', '-')}`);
  await clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${berth?.host}/${repository}:${tag}`, `dir:${dest}`]);
  const img = dirCopy(dest);
  assert.equal(img.topDigest, digestOf(fx.get(fixture)), `${label}: the digest of ${repository}:${tag}`);
  assert.deepEqual(await checkBlobs(img), [], `${label}: every blob of ${repository}:${tag} hashes to its digest`);
  const rows = fx.contentsOf(fixture);
  if (rows.length > 0) assert.deepEqual(await checkImageFiles(img, rows, `${dest}.unpacked`), [], `${label}: file contents of ${repository}:${tag}`);
}

await describe('pull-through cache of docker-registry 2.8.2 with htpasswd (proxy.remoteurl)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    work = freshWorkDir('proxy');
    short = freshShortDir();
    fx = await loadFixtures();
    const htpasswd = path.join(work, 'upstream-htpasswd');
    writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', UPSTREAM_USER.user, UPSTREAM_USER.password], { encoding: 'utf8' }));
    upstream = await startRegistry(path.join(work, 'upstream'), 'reference', { auth: `{ htpasswd: { realm: upstream-e2e, path: ${htpasswd} } }` });
    clients = makeClients(work, short, upstream.host);
    for (const [fixture, repository, tag] of IMAGES) {
      await clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds, fx.get(fixture).ref, `docker://${upstream.host}/${repository}:${tag}`]);
    }
    berth = await startRegistry(path.join(work, 'berth'), 'berth', {
      extra: [`proxy: { remoteurl: "${upstream.url}", username: ${UPSTREAM_USER.user}, password: "${UPSTREAM_USER.password}", ttl: 0s }`],
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

  await test('the upstream refuses anonymous pulls (its htpasswd is on)', async () => {
    const response = await fetch(`${upstream?.url}/v2/team/oci-image/manifests/v1`);
    await response.arrayBuffer();
    assert.equal(response.status, 401);
  });

  await test('skopeo copies each image out of the cold cache: digests and file contents are the upstream\'s', async () => {
    for (const [fixture, repository, tag] of IMAGES) await pullAndCheck(fixture, repository, tag, 'cold');
  });

  await test('a push into the proxied registry is refused with 405 UNSUPPORTED', async () => {
    const api = new RegistryApi(berth?.url ?? '');
    const started = await api.request('POST', '/v2/team/oci-image/blobs/uploads/');
    assert.equal(started.status, 405);
    assert.equal((JSON.parse(started.body.toString()) as { errors: { code: string }[] }).errors[0]?.code, 'UNSUPPORTED');
    const pushed = await clients.tryRun('skopeo', ['copy', '-q', '--dest-tls-verify=false', fx.get('oci-image').ref, `docker://${berth?.host}/team/pushed:v1`]);
    assert.notEqual(pushed.code, 0, `the push should fail:\n${describeRun(pushed)}`);
  });

  await test('a tag the upstream does not have is 404 MANIFEST_UNKNOWN', async () => {
    const response = await fetch(`${berth?.url}/v2/team/oci-image/manifests/nope`);
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { errors: { code: string }[] }).errors[0]?.code, 'MANIFEST_UNKNOWN');
  });

  // ttl 0s: every pull by tag asks the upstream first; with it gone, the cached tag is served.
  await test('with the upstream stopped, the same images are copied from the cache alone', async () => {
    await upstream?.stop();
    upstream = undefined;
    for (const [fixture, repository, tag] of IMAGES) await pullAndCheck(fixture, repository, tag, 'warm');
  });

  await test('with the upstream stopped, tags/list answers from the cache', async () => {
    const response = await fetch(`${berth?.url}/v2/team/oci-image/tags/list`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(response.status, 200);
    assert.deepEqual(((await response.json()) as { tags: string[] }).tags, ['v1']);
  });

  await test('with the upstream stopped, what was never cached is 503 UNAVAILABLE, promptly', async () => {
    const response = await fetch(`${berth?.url}/v2/team/never-pulled/manifests/v1`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { errors: { code: string }[] }).errors[0]?.code, 'UNAVAILABLE');
    assert.ok(response.headers.get('retry-after'));
  });
});
