// Real clients against Berth with its built-in token service, over HTTPS with a throwaway CA:
// skopeo, podman and buildah are told to trust the CA (--cert-dir, registries.conf not insecure)
// and follow the Bearer challenge to Berth's own /auth/token (with credentials, and anonymously for
// pub/**); ctr with a hosts.toml naming the CA and --user; the docker CLI and dockerd log in and push/pull.
// docker and dockerd treat 127.0.0.0/8 as an insecure registry and skip certificate verification
// there, so for them this checks the token flow over TLS, not their trust of the CA.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTestPki, type TestPki } from '../support/auth.js';
import { CTR_NAMESPACE, startContainerd, type Containerd } from './harness/containerd.js';
import { startDockerd } from './harness/dockerd.js';
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
let pki: TestPki;
/** A containers/image certificate directory holding the throwaway CA as ca.crt. */
let certDir: string;
const skip = registryKind() !== 'berth' ? 'the token service is Berth configuration' : false;

await describe('access control with real clients: built-in token service over TLS', { timeout: FILE_TIMEOUT_MS, skip }, async () => {
  before(async () => {
    s = await startSuite('auth-token', {
      insecure: false,
      registry: (work) => {
        const dir = path.join(work, 'pki');
        mkdirSync(dir, { recursive: true });
        pki = makeTestPki(dir);
        certDir = path.join(work, 'certs');
        mkdirSync(certDir, { recursive: true });
        copyFileSync(pki.ca, path.join(certDir, 'ca.crt'));
        const file = path.join(work, 'htpasswd');
        const line = (u: { user: string; password: string }): string => execFileSync('htpasswd', ['-Bbn', u.user, u.password], { encoding: 'utf8' }).trim();
        writeFileSync(file, `${line(PUSHER)}\n${line(READER)}\n`);
        // ratelimit: the deliberate wrong passwords below come from one address within a minute.
        return {
          tls: { certificate: pki.certificate, key: pki.key, ca: pki.ca },
          auth: `{ htpasswd: { realm: berth-e2e, path: ${file} }, ratelimit: { attempts: 50 }, tokenservice: { enabled: true }, groups: { readers: [reader] }, policies: [
            { repositories: ["pub/**"], anonymous: true, actions: [pull] },
            { repositories: ["**"], users: [pusher], actions: [pull, push, delete] },
            { repositories: ["team/**"], groups: [readers], actions: [pull] } ] }`,
        };
      },
    });
    for (const repo of ['team/oci-image', 'pub/oci-image']) {
      await s.clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-cert-dir', certDir, '--dest-creds', creds(PUSHER), s.fx.get('oci-image').ref, `docker://${s.reg.host}/${repo}:v1`]);
    }
  });
  after(async () => {
    await stopSuite(s);
  });

  const ref = (repo: string, tag = 'v1'): string => `docker://${s.reg.host}/${repo}:${tag}`;

  await test('a client not told about the CA refuses the registry (x509)', async () => {
    assertRefused(await s.clients.tryRun('skopeo', ['inspect', '--raw', '--creds', creds(READER), ref('team/oci-image')]), /x509|certificate/i, 'skopeo without the CA');
  });

  await describe('skopeo, podman, buildah follow the Bearer challenge to /auth/token', async () => {
    await test('skopeo: --creds pull and push; anonymous pull of pub/ with an anonymous token; team/ refused', async () => {
      const raw = await s.clients.skopeo(['inspect', '--raw', '--cert-dir', certDir, '--creds', creds(READER), ref('team/oci-image')]);
      assert.ok(raw.stdoutBytes.length > 0);
      await s.clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-cert-dir', certDir, '--dest-creds', creds(PUSHER), s.fx.get('docker-v2s2').ref, ref('team/docker-v2s2')]);
      await s.clients.skopeo(['inspect', '--raw', '--cert-dir', certDir, ref('pub/oci-image')]);
      assertRefused(await s.clients.tryRun('skopeo', ['inspect', '--raw', '--cert-dir', certDir, ref('team/oci-image')]), /unauthorized|denied|authentication required/i, 'anonymous inspect of team/');
    });

    await test('skopeo: the reader cannot push (denied); a wrong password is refused at the token endpoint', async () => {
      assertRefused(
        await s.clients.tryRun('skopeo', ['copy', '-q', '--dest-cert-dir', certDir, '--dest-creds', creds(READER), s.fx.get('docker-v2s2').ref, ref('team/by-reader')]),
        /denied|unauthorized/i,
        'reader push',
      );
      assertRefused(await s.clients.tryRun('skopeo', ['inspect', '--raw', '--cert-dir', certDir, '--creds', 'reader:nope', ref('team/oci-image')]), /unauthorized|invalid username\/password|authentication required/i, 'wrong password');
    });

    await test('podman login (--cert-dir); pull; push; logout', async () => {
      assertRefused(await s.clients.tryRun('podman', ['login', '--cert-dir', certDir, '-u', PUSHER.user, '-p', 'nope', s.reg.host]), /unauthorized|invalid username\/password/i, 'podman login with a wrong password');
      await s.clients.podman(['login', '--cert-dir', certDir, '-u', PUSHER.user, '-p', PUSHER.password, s.reg.host]);
      await s.clients.podman(['pull', '-q', '--cert-dir', certDir, `${s.reg.host}/team/oci-image:v1`]);
      await s.clients.podman(['push', '-q', '--cert-dir', certDir, `${s.reg.host}/team/oci-image:v1`, `${s.reg.host}/team/podman:v1`]);
      await s.clients.podman(['logout', s.reg.host]);
    });

    await test('buildah --creds pull; push as the reader refused', async () => {
      await s.clients.buildah(['pull', '-q', '--cert-dir', certDir, '--creds', creds(READER), `${s.reg.host}/team/oci-image:v1`]);
      assertRefused(
        await s.clients.tryRun('buildah', ['push', '-q', '--cert-dir', certDir, '--creds', creds(READER), `${s.reg.host}/team/oci-image:v1`, `docker://${s.reg.host}/team/buildah:v1`]),
        /denied|unauthorized/i,
        'buildah push by the reader',
      );
    });
  });

  await test('docker CLI (no daemon): docker login through the token service; manifest inspect', async () => {
    assertRefused(await s.clients.tryRun('docker', ['login', '-u', READER.user, '--password-stdin', s.reg.host], { input: 'nope\n' }), /unauthorized|incorrect username or password/i, 'docker login with a wrong password');
    await s.clients.docker(['login', '-u', READER.user, '--password-stdin', s.reg.host], { input: `${READER.password}\n` });
    const out = await s.clients.docker(['manifest', 'inspect', '--insecure', `${s.reg.host}/team/oci-image:v1`]);
    assert.match(out.stdout, /"layers"/);
    await s.clients.docker(['logout', s.reg.host]);
  });

  await describe('containerd and dockerd', async () => {
    let cd: Containerd;
    before(async () => {
      cd = await startContainerd(s.work, s.short);
      s.onStop(() => cd.stop());
    });

    await test('ctr --hosts-dir (https + CA) --user pulls through the token flow; anonymous pull of pub/ works; the reader cannot push', async () => {
      // ctr talks plain HTTP to loopback unless a hosts.toml names the https server and its CA.
      const hostsDir = s.file('ctr-hosts');
      mkdirSync(path.join(hostsDir, s.reg.host), { recursive: true });
      writeFileSync(
        path.join(hostsDir, s.reg.host, 'hosts.toml'),
        [`server = "https://${s.reg.host}"`, '', `[host."https://${s.reg.host}"]`, '  capabilities = ["pull", "resolve", "push"]', `  ca = "${pki.ca}"`, ''].join('\n'),
      );
      const ctr = (args: string[]): Promise<RunResult> => run('ctr', ['-a', cd.socket, '-n', CTR_NAMESPACE, ...args], { timeoutMs: 120_000 });
      const image = `${s.reg.host}/team/oci-image:v1`;
      const pulled = await ctr(['images', 'pull', '--hosts-dir', hostsDir, '--user', creds(READER), image]);
      assert.equal(pulled.code, 0, describeRun(pulled));
      const anonymous = await ctr(['images', 'pull', '--hosts-dir', hostsDir, `${s.reg.host}/pub/oci-image:v1`]);
      assert.equal(anonymous.code, 0, describeRun(anonymous));
      await cd.ctr(['images', 'tag', image, `${s.reg.host}/team/ctr:v1`]);
      assertRefused(await ctr(['images', 'push', '--hosts-dir', hostsDir, '--user', creds(READER), `${s.reg.host}/team/ctr:v1`]), /denied|403|forbidden|unauthorized/i, 'ctr push by the reader');
      const pushed = await ctr(['images', 'push', '--hosts-dir', hostsDir, '--user', creds(PUSHER), `${s.reg.host}/team/ctr:v1`]);
      assert.equal(pushed.code, 0, describeRun(pushed));
    });

    await test('dockerd: anonymous pull of pub/ (anonymous token); docker login; pull; push; logout', async () => {
      const dk = await startDockerd(s.work, s.short, cd.socket, s.reg.host, s.clients.env);
      s.onStop(() => dk.stop());
      const anonymous = await dk.docker(['pull', `${s.reg.host}/pub/oci-image:v1`]);
      assert.ok(anonymous.stdout.includes(digestOf(s.fx.get('oci-image'))), anonymous.stdout);
      assertRefused(await dk.tryDocker(['pull', `${s.reg.host}/team/oci-image:v1`]), /denied|unauthorized|authentication required/i, 'dockerd anonymous pull of team/');
      assertRefused(await dk.tryDocker(['login', '-u', PUSHER.user, '--password-stdin', s.reg.host], { input: 'nope\n' }), /unauthorized|incorrect username or password/i, 'dockerd login with a wrong password');
      await dk.docker(['login', '-u', PUSHER.user, '--password-stdin', s.reg.host], { input: `${PUSHER.password}\n` });
      await dk.docker(['pull', `${s.reg.host}/team/oci-image:v1`]);
      await dk.docker(['tag', `${s.reg.host}/team/oci-image:v1`, `${s.reg.host}/team/dockerd:v1`]);
      const pushed = await dk.docker(['push', `${s.reg.host}/team/dockerd:v1`]);
      assert.match(pushed.stdout, /digest: sha256:[0-9a-f]{64}/);
      await dk.docker(['logout', s.reg.host]);
      assertRefused(await dk.tryDocker(['push', `${s.reg.host}/team/dockerd:v1`]), /denied|unauthorized|authentication required/i, 'dockerd push after logout');
    });
  });
});
