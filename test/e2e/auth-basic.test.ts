// Real clients against Berth with htpasswd Basic auth and policies, over plain HTTP on loopback:
// skopeo (--creds, login), podman login, buildah --creds, the docker CLI's client-side login,
// ctr --user, and dockerd's docker login. Anonymous pull of pub/**, push for the pusher, pull only
// for the reader; refusals are checked by exit status and message, and by what the registry holds.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CTR_NAMESPACE, startContainerd, type Containerd } from './harness/containerd.js';
import { startDockerd, type Dockerd } from './harness/dockerd.js';
import { describeRun, run, type RunResult } from './harness/exec.js';
import { digestOf } from './harness/fixtures.js';
import { registryKind } from './harness/registry-process.js';
import { FILE_TIMEOUT_MS, startSuite, stopSuite, type Suite } from './harness/suite.js';

const PUSHER = { user: 'pusher', password: 'pusher-E2e-secret' };
const READER = { user: 'reader', password: 'reader-E2e-secret' };

function creds(user: { user: string; password: string }): string {
  return `${user.user}:${user.password}`;
}

function assertRefused(r: RunResult, pattern: RegExp, what: string): void {
  assert.notEqual(r.code, 0, `${what} should fail:\n${describeRun(r)}`);
  assert.match(`${r.stderr}\n${r.stdout}`, pattern, `${what}: the client names the refusal\n${describeRun(r)}`);
}

let s: Suite;
const skip = registryKind() !== 'berth' ? 'access-control policies are Berth configuration' : false;

await describe('access control with real clients: htpasswd', { timeout: FILE_TIMEOUT_MS, skip }, async () => {
  before(async () => {
    s = await startSuite('auth-basic', {
      registry: (work) => {
        const file = path.join(work, 'htpasswd');
        const line = (u: { user: string; password: string }): string => execFileSync('htpasswd', ['-Bbn', u.user, u.password], { encoding: 'utf8' }).trim();
        writeFileSync(file, `${line(PUSHER)}\n${line(READER)}\n`);
        // ratelimit: the deliberate wrong passwords below come from one address within a minute.
        return {
          auth: `{ htpasswd: { realm: berth-e2e, path: ${file} }, ratelimit: { attempts: 50 }, groups: { readers: [reader] }, policies: [
            { repositories: ["pub/**"], anonymous: true, actions: [pull] },
            { repositories: ["**"], users: [pusher], actions: [pull, push, delete] },
            { repositories: ["team/**"], groups: [readers], actions: [pull] } ] }`,
        };
      },
    });
    // Seeded by the pusher, so every client below has something to pull.
    for (const repo of ['team/oci-image', 'pub/oci-image']) {
      await s.clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds(PUSHER), s.fx.get('oci-image').ref, `docker://${s.reg.host}/${repo}:v1`]);
    }
  });
  after(async () => {
    await stopSuite(s);
  });

  const ref = (repo: string, tag = 'v1'): string => `docker://${s.reg.host}/${repo}:${tag}`;

  await describe('skopeo', async () => {
    await test('push without credentials is refused (401); nothing is written', async () => {
      const r = await s.clients.tryRun('skopeo', ['copy', '-q', '--dest-tls-verify=false', s.fx.get('docker-v2s2').ref, ref('team/anon')]);
      assertRefused(r, /unauthorized|authentication required/i, 'anonymous push');
      assert.equal((await s.clients.tryRun('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', creds(PUSHER), ref('team/anon')])).code === 0, false);
    });

    await test('--dest-creds pushes; --src-creds pulls; anonymous inspect of pub/ works, of team/ is refused', async () => {
      await s.clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds(PUSHER), s.fx.get('docker-v2s2').ref, ref('team/docker-v2s2')]);
      const raw = await s.clients.skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds(READER), ref('team/docker-v2s2')]);
      assert.ok(raw.stdoutBytes.length > 0);
      const dest = s.file('skopeo-pulled');
      await s.clients.skopeo(['copy', '-q', '--src-tls-verify=false', '--src-creds', creds(READER), ref('team/oci-image'), `oci:${dest}:latest`]);
      await s.clients.skopeo(['inspect', '--raw', '--tls-verify=false', ref('pub/oci-image')]);
      assertRefused(await s.clients.tryRun('skopeo', ['inspect', '--raw', '--tls-verify=false', ref('team/oci-image')]), /unauthorized|authentication required/i, 'anonymous inspect of team/');
    });

    await test('the reader may not push (403 denied), a wrong password is refused (401)', async () => {
      assertRefused(
        await s.clients.tryRun('skopeo', ['copy', '-q', '--dest-tls-verify=false', '--dest-creds', creds(READER), s.fx.get('docker-v2s2').ref, ref('team/by-reader')]),
        /denied/i,
        'reader push',
      );
      assertRefused(
        await s.clients.tryRun('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', 'reader:wrong-password', ref('team/oci-image')]),
        /unauthorized|authentication required|invalid username\/password/i,
        'wrong password',
      );
    });

    await test('skopeo login writes the auth file; later commands use it; logout', async () => {
      assertRefused(await s.clients.tryRun('skopeo', ['login', '--tls-verify=false', '-u', READER.user, '-p', 'nope', s.reg.host]), /unauthorized|invalid username\/password/i, 'login with a wrong password');
      await s.clients.skopeo(['login', '--tls-verify=false', '-u', READER.user, '-p', READER.password, s.reg.host]);
      await s.clients.skopeo(['inspect', '--raw', '--tls-verify=false', ref('team/oci-image')]);
      await s.clients.skopeo(['logout', s.reg.host]);
    });
  });

  await describe('podman and buildah', async () => {
    await test('podman login; pull by the reader; push refused; login as pusher, push; logout', async () => {
      assertRefused(await s.clients.tryRun('podman', ['login', '--tls-verify=false', '-u', READER.user, '-p', 'nope', s.reg.host]), /unauthorized|invalid username\/password/i, 'podman login with a wrong password');
      await s.clients.podman(['login', '--tls-verify=false', '-u', READER.user, '-p', READER.password, s.reg.host]);
      await s.clients.podman(['pull', '-q', `${s.reg.host}/team/oci-image:v1`]);
      assertRefused(await s.clients.tryRun('podman', ['push', '-q', `${s.reg.host}/team/oci-image:v1`, `${s.reg.host}/team/podman:v1`]), /denied/i, 'podman push by the reader');
      await s.clients.podman(['logout', s.reg.host]);
      await s.clients.podman(['login', '--tls-verify=false', '-u', PUSHER.user, '--password-stdin', s.reg.host], { input: `${PUSHER.password}\n` });
      await s.clients.podman(['push', '-q', `${s.reg.host}/team/oci-image:v1`, `${s.reg.host}/team/podman:v1`]);
      await s.clients.podman(['logout', s.reg.host]);
      assert.equal((await s.api.getManifest('team/podman', 'v1')).status, 401, 'anonymous GET of the pushed manifest is challenged');
    });

    await test('buildah pull --creds; buildah push --creds as the reader is refused', async () => {
      await s.clients.buildah(['pull', '-q', '--creds', creds(READER), `${s.reg.host}/team/oci-image:v1`]);
      assertRefused(
        await s.clients.tryRun('buildah', ['push', '-q', '--creds', creds(READER), `${s.reg.host}/team/oci-image:v1`, `docker://${s.reg.host}/team/buildah:v1`]),
        /denied/i,
        'buildah push by the reader',
      );
      await s.clients.buildah(['push', '-q', '--creds', creds(PUSHER), `${s.reg.host}/team/oci-image:v1`, `docker://${s.reg.host}/team/buildah:v1`]);
    });
  });

  await test('docker CLI (no daemon): docker login checks the password; manifest inspect with the saved login', async () => {
    assertRefused(await s.clients.tryRun('docker', ['login', '-u', READER.user, '--password-stdin', s.reg.host], { input: 'nope\n' }), /unauthorized|incorrect username or password/i, 'docker login with a wrong password');
    await s.clients.docker(['login', '-u', READER.user, '--password-stdin', s.reg.host], { input: `${READER.password}\n` });
    const out = await s.clients.docker(['manifest', 'inspect', '--insecure', `${s.reg.host}/team/oci-image:v1`]);
    assert.match(out.stdout, /"layers"/);
    await s.clients.docker(['logout', s.reg.host]);
    assertRefused(await s.clients.tryRun('docker', ['manifest', 'inspect', '--insecure', `${s.reg.host}/team/oci-image:v1`]), /unauthorized|authentication required|no basic auth credentials/i, 'inspect after logout');
  });

  await describe('containerd and dockerd', async () => {
    let cd: Containerd;
    let dk: Dockerd;
    before(async () => {
      cd = await startContainerd(s.work, s.short);
      s.onStop(() => cd.stop());
    });

    await test('ctr --user pulls; without --user the pull is refused; the reader cannot push', async () => {
      const image = `${s.reg.host}/team/oci-image:v1`;
      const ctr = (args: string[]): Promise<RunResult> => run('ctr', ['-a', cd.socket, '-n', CTR_NAMESPACE, ...args], { timeoutMs: 120_000 });
      assertRefused(await ctr(['images', 'pull', '--plain-http', image]), /unauthorized|401|authorization/i, 'ctr pull without --user');
      await cd.ctr(['images', 'pull', '--plain-http', '--user', creds(READER), image], { timeoutMs: 120_000 });
      assertRefused(await ctr(['images', 'push', '--plain-http', '--user', creds(READER), `${s.reg.host}/team/ctr:v1`, image]), /denied|403|forbidden/i, 'ctr push by the reader');
      await cd.ctr(['images', 'tag', image, `${s.reg.host}/team/ctr:v1`]);
      await cd.ctr(['images', 'push', '--plain-http', '--user', creds(PUSHER), `${s.reg.host}/team/ctr:v1`], { timeoutMs: 120_000 });
    });

    await test('dockerd: docker login checks the password, pull, push to another repository (mount); logout', async () => {
      dk = await startDockerd(s.work, s.short, cd.socket, s.reg.host, s.clients.env);
      s.onStop(() => dk.stop());
      assertRefused(await dk.tryDocker(['login', '-u', PUSHER.user, '--password-stdin', s.reg.host], { input: 'nope\n' }), /unauthorized|incorrect username or password/i, 'dockerd login with a wrong password');
      await dk.docker(['login', '-u', PUSHER.user, '--password-stdin', s.reg.host], { input: `${PUSHER.password}\n` });
      const pulled = await dk.docker(['pull', `${s.reg.host}/team/oci-image:v1`]);
      assert.ok(pulled.stdout.includes(digestOf(s.fx.get('oci-image'))), pulled.stdout);
      await dk.docker(['tag', `${s.reg.host}/team/oci-image:v1`, `${s.reg.host}/team/dockerd:v1`]);
      const pushed = await dk.docker(['push', `${s.reg.host}/team/dockerd:v1`]);
      assert.match(pushed.stdout, /digest: sha256:[0-9a-f]{64}/);
      await dk.docker(['logout', s.reg.host]);
      // With a Basic challenge on /v2/, docker sends nothing without a login ("no basic auth
      // credentials"), even where the policy lets anonymous callers pull: anonymous pull for
      // docker needs the token service (auth-token.test.ts).
      assertRefused(await dk.tryDocker(['pull', `${s.reg.host}/pub/oci-image:v1`]), /no basic auth credentials/i, 'dockerd anonymous pull with Basic auth');
      assertRefused(await dk.tryDocker(['push', `${s.reg.host}/team/dockerd:v1`]), /unauthorized|authentication required|no basic auth credentials/i, 'dockerd push after logout');
    });
  });
});
