// The upstream client against real registries: Basic against Berth with htpasswd, and the Bearer
// token flow against Berth's built-in token service (as auth.docker.io is for registry-1.docker.io).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UpstreamClient, pullScope } from '../../src/upstream/upstream-client.js';
import { htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry } from '../support/auth.js';

const alice = { user: 'alice', password: 'alice-secret' };

describe('upstream client, Bearer token flow', () => {
  let upstream: AuthRegistry;
  let digest: string;
  before(async () => {
    const dir = tempDir('berth-upstream-token-');
    writeFileSync(join(dir, 'htpasswd'), `${htpasswdLine(alice.user, alice.password)}\n`);
    upstream = await startAuthRegistry(
      `auth:
  htpasswd: { realm: tokens, path: \${dir}/htpasswd }
  tokenservice: { enabled: true, keyfile: \${dir}/keys/token.pem }
  ratelimit: { attempts: 1000, delay: 0s }
`,
      dir,
    );
    const basic = `Basic ${Buffer.from(`${alice.user}:${alice.password}`).toString('base64')}`;
    const issued = (await (await fetch(`${upstream.url}/auth/token?service=berth&scope=repository:team/app:pull,push`, { headers: { authorization: basic } })).json()) as { token: string };
    const pushed = await pushImageAs(upstream.url, 'team/app', 'v1', { token: issued.token });
    digest = pushed.blobs[0]?.digest ?? '';
  });
  after(() => upstream.stop());

  test('401 challenge → token for the scope → 200; the token is reused for the same scope', async () => {
    const client = new UpstreamClient({ url: upstream.url, username: alice.user, password: alice.password });
    const first = await client.request('HEAD', `/v2/team/app/manifests/v1`, pullScope('team/app'), { accept: 'application/vnd.oci.image.manifest.v1+json' });
    assert.equal(first.status, 200);
    const blob = await client.request('GET', `/v2/team/app/blobs/${digest}`, pullScope('team/app'));
    assert.equal(blob.status, 200);
    await blob.arrayBuffer();
    assert.equal(client.tokenFetches, 1);
  });

  test('a wrong password is refused by the token endpoint', async () => {
    const client = new UpstreamClient({ url: upstream.url, username: alice.user, password: 'wrong' });
    await assert.rejects(client.request('HEAD', `/v2/team/app/manifests/v1`, pullScope('team/app')), (e: Error & { status?: number }) => e.status === 401);
  });
});

describe('upstream client, Basic', () => {
  let upstream: AuthRegistry;
  before(async () => {
    const dir = tempDir('berth-upstream-basic-');
    writeFileSync(join(dir, 'htpasswd'), `${htpasswdLine(alice.user, alice.password)}\n`);
    upstream = await startAuthRegistry(`auth:\n  htpasswd: { realm: basic, path: \${dir}/htpasswd }\n  ratelimit: { attempts: 1000, delay: 0s }\n`, dir);
    await pushImageAs(upstream.url, 'team/app', 'v1', alice);
  });
  after(() => upstream.stop());

  test('401 Basic challenge → credentials → 200, and Basic is sent up front afterwards', async () => {
    const client = new UpstreamClient({ url: upstream.url, username: alice.user, password: alice.password });
    assert.equal((await client.request('HEAD', '/v2/team/app/manifests/v1', pullScope('team/app'))).status, 200);
    assert.equal((await client.request('HEAD', '/v2/team/app/manifests/v1', pullScope('team/app'))).status, 200);
    assert.equal(client.tokenFetches, 0);
  });

  test('without credentials the 401 comes back as it is', async () => {
    const client = new UpstreamClient({ url: upstream.url });
    assert.equal((await client.request('HEAD', '/v2/team/app/manifests/v1', pullScope('team/app'))).status, 401);
  });
});
