// Access control across instances (PostgreSQL): the built-in token service's signing key is the one
// the database holds, so a token (and a refresh token) issued by one instance is accepted by another;
// the failed-login limiter counts a client's failures on every instance together.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { htpasswdLine, tempDir } from '../support/auth.js';
import { startScaleOut, type ScaleOut } from '../support/scale-out.js';

const alice = { user: 'alice', password: 'alice-Secret-1' };
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('access control across instances (PostgreSQL)', () => {
  let cluster: ScaleOut;
  let dir = '';
  before(async () => {
    dir = tempDir('berth-scale-auth-');
    writeFileSync(join(dir, 'htpasswd'), `${htpasswdLine(alice.user, alice.password)}\n`);
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      `version: 0.1
auth:
  htpasswd: { realm: scale, path: ${join(dir, 'htpasswd')} }
  tokenservice: { enabled: true }
  token: { service: berth-scale, issuer: berth-scale }
  ratelimit: { attempts: 3, window: 10m, delay: 0s }
  policies:
    - { repositories: ["team/**"], users: [alice], actions: [pull, push] }
`,
    );
    cluster = await startScaleOut('scale-auth', 2, {}, config);
  });
  after(async () => {
    await cluster?.close();
  });

  it('every instance publishes one signing key; an access token from A opens B, a refresh token from A is exchanged at B', async () => {
    const [a, b] = cluster.instances as [(typeof cluster.instances)[0], (typeof cluster.instances)[0]];
    const jwks = await Promise.all([a, b].map(async (instance) => ((await (await fetch(`${instance.url}/auth/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid)));
    assert.deepEqual(jwks[0], jwks[1]);
    const scope = 'repository:team/app:pull,push';
    const issued = await fetch(`${a.url}/auth/token?service=berth-scale&scope=${encodeURIComponent(scope)}&offline_token=true`, { headers: { Authorization: basic(alice.user, alice.password) } });
    assert.equal(issued.status, 200);
    const body = (await issued.json()) as { token: string; refresh_token?: string };
    assert.ok(body.refresh_token !== undefined);
    const upload = await fetch(`${b.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${body.token}` } });
    assert.equal(upload.status, 202, await upload.text());
    const refreshed = await fetch(`${b.url}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'berth-scale', scope }).toString(),
    });
    assert.equal(refreshed.status, 200, await refreshed.clone().text());
    const again = (await refreshed.json()) as { access_token: string };
    const tags = await fetch(`${a.url}/v2/team/app/tags/list`, { headers: { Authorization: `Bearer ${again.access_token}` } });
    assert.notEqual(tags.status, 401);
  });

  it('failed logins on A and B count together: past the limit, both answer 429', async () => {
    const [a, b] = cluster.instances as [(typeof cluster.instances)[0], (typeof cluster.instances)[0]];
    const wrong = { Authorization: basic(alice.user, 'not her password') };
    for (const instance of [a, b, a]) {
      const response = await fetch(`${instance.url}/auth/token?service=berth-scale`, { headers: wrong });
      assert.equal(response.status, 401);
    }
    for (const instance of [b, a]) {
      const response = await fetch(`${instance.url}/auth/token?service=berth-scale`, { headers: { Authorization: basic(alice.user, alice.password) } });
      assert.equal(response.status, 429);
      assert.ok(Number(response.headers.get('retry-after')) > 0);
    }
  });
});
