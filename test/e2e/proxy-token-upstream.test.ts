// The pull-through cache in front of an upstream that wants Docker's token flow, as Docker Hub,
// ghcr.io and quay.io do: Debian's docker-registry 2.8.2 with `auth.token`, whose token server is a
// Berth with the built-in token service (as auth.docker.io is for registry-1.docker.io). 2.8.2
// looks a token's `kid` up among the libtrust key IDs of its rootcertbundle, so that Berth signs
// with `kidformat: libtrust` and 2.8.2 is given a certificate of Berth's key. skopeo pushes into
// 2.8.2 through that flow; a second Berth mirrors 2.8.2 with credentials (401 challenge, token per
// scope from the realm, Bearer), and skopeo pulls through it: digests and every blob's bytes are
// compared with the fixture. A mirror with a wrong password gets no token and its client a 503.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeClients, type Clients } from './harness/clients.js';
import { loadFixtures, type Fixtures } from './harness/fixtures.js';
import { freshShortDir, freshWorkDir } from './harness/paths.js';
import { startRegistry, type Registry } from './harness/registry-process.js';
import { FILE_TIMEOUT_MS } from './harness/suite.js';

const USER = { user: 'mirror', password: 'mirror-E2e-secret' };

let work: string;
let short: string;
let fx: Fixtures;
let tokens: Registry | undefined;
let upstream: Registry | undefined;
let mirror: Registry | undefined;
let wrong: Registry | undefined;
let clients: Clients;

await describe('pull-through cache of a token-authenticated upstream (2.8.2, Berth as its token server)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    work = freshWorkDir('proxy-token');
    short = freshShortDir();
    fx = await loadFixtures();
    const key = path.join(work, 'token-key.pem');
    const certificate = path.join(work, 'token-cert.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    execFileSync('openssl', ['req', '-new', '-x509', '-key', key, '-out', certificate, '-days', '2', '-subj', '/CN=berth token service']);
    const htpasswd = path.join(work, 'htpasswd');
    writeFileSync(htpasswd, `${execFileSync('htpasswd', ['-Bbn', USER.user, USER.password], { encoding: 'utf8' }).trim()}\n`);
    tokens = await startRegistry(path.join(work, 'tokens'), 'berth', {
      auth: `{ htpasswd: { realm: tokens, path: ${htpasswd} }, token: { service: upstream, issuer: berth-tokens }, tokenservice: { enabled: true, keyfile: ${key}, kidformat: libtrust }, policies: [ { repositories: ["**"], users: [${USER.user}], actions: [pull, push] } ] }`,
    });
    upstream = await startRegistry(path.join(work, 'upstream'), 'reference', {
      auth: `{ token: { realm: "${tokens.url}/auth/token", service: upstream, issuer: berth-tokens, rootcertbundle: ${certificate} } }`,
    });
    clients = makeClients(work, short, upstream.host);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `${USER.user}:${USER.password}`, fx.get('oci-image').ref, `docker://${upstream.host}/team/app:v1`]);
    mirror = await startRegistry(path.join(work, 'mirror'), 'berth', { extra: [`proxy: { remoteurl: "${upstream.url}", username: ${USER.user}, password: ${USER.password} }`] });
    wrong = await startRegistry(path.join(work, 'wrong'), 'berth', { extra: [`proxy: { remoteurl: "${upstream.url}", username: ${USER.user}, password: not-the-password }`] });
  });

  after(async () => {
    for (const registry of [wrong, mirror, upstream, tokens]) await registry?.stop();
    if (process.env.E2E_KEEP !== '1') {
      rmSync(work, { recursive: true, force: true });
      rmSync(short, { recursive: true, force: true });
    }
  });

  await test("2.8.2 accepts Berth's tokens: anonymous is refused, skopeo's push with credentials went through the token flow", async () => {
    const anonymous = await fetch(`${upstream?.url}/v2/team/app/manifests/v1`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm="${tokens?.url}/auth/token",service="upstream"`));
    const listed = await clients.skopeo(['list-tags', '--tls-verify=false', '--creds', `${USER.user}:${USER.password}`, `docker://${upstream?.host}/team/app`]);
    assert.deepEqual((JSON.parse(listed.stdout) as { Tags: string[] }).Tags, ['v1']);
  });

  await test('skopeo pulls through the mirror: the digest and every blob are the fixture\'s', async () => {
    const image = fx.get('oci-image');
    const raw = await clients.skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${mirror?.host}/team/app:v1`]);
    assert.equal(`sha256:${(await import('node:crypto')).createHash('sha256').update(raw.stdout).digest('hex')}`, image.digest);
    const out = path.join(work, 'pulled');
    await clients.skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${mirror?.host}/team/app:v1`, `oci:${out}:v1`]);
    const manifest = JSON.parse(raw.stdout) as { config: { digest: string }; layers: { digest: string }[] };
    for (const blob of [manifest.config, ...manifest.layers]) {
      const [algorithm, hex] = blob.digest.split(':') as [string, string];
      const pulled = readFileSync(path.join(out, 'blobs', algorithm, hex));
      const original = readFileSync(path.join(image.path, 'blobs', algorithm, hex));
      assert.ok(pulled.equals(original), `${blob.digest}: the bytes are the fixture's`);
    }
  });

  await test('a mirror whose credentials the token server refuses answers 503 UNAVAILABLE, caching nothing', async () => {
    const response = await fetch(`${wrong?.url}/v2/team/app/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { errors: { code: string }[] }).errors[0]?.code, 'UNAVAILABLE');
    const catalog = (await (await fetch(`${wrong?.url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.deepEqual(catalog.repositories, []);
  });
});
