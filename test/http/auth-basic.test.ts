// Access control with htpasswd Basic auth and policies: challenges, the anonymous policy, per-user
// and per-group grants, admins, catalog filtering, mounts, name tricks, reload, logs, timing.
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, expectError, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry, type Credentials } from '../support/auth.js';
import { pathOf, rawRequest } from '../support/raw-http.js';

const alice = { user: 'alice', password: 'alice-Secret-1' };
const bob = { user: 'bob', password: 'bob-Secret-2' };
const root = { user: 'root', password: 'root-Secret-3' };

const CONFIG = `
auth:
  htpasswd: { realm: "Berth test", path: \${dir}/htpasswd }
  admins: [root]
  groups: { readers: [bob] }
  policies:
    - { repositories: ["public/**"], anonymous: true, actions: [pull] }
    - { repositories: ["public/**", "team/**"], users: [alice], actions: [pull, push] }
    - { repositories: ["team/**"], groups: [readers], actions: [pull] }
    - { repositories: ["bob/*"], users: [bob], actions: [pull, push, delete] }
  ratelimit: { attempts: 1000, delay: 0s }
`;

describe('access control: htpasswd Basic auth and policies', () => {
  let registry: AuthRegistry;
  let url: string;
  let team: Awaited<ReturnType<typeof pushImageAs>>;

  before(async () => {
    const dir = tempDir('berth-auth-basic-');
    writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(alice.user, alice.password), htpasswdLine(bob.user, bob.password), htpasswdLine(root.user, root.password), 'plain:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', ''].join('\n'));
    registry = await startAuthRegistry(CONFIG, dir);
    url = registry.url;
    team = await pushImageAs(url, 'team/app', 'v1', alice);
    await pushImageAs(url, 'public/base', 'v1', alice);
    await pushImageAs(url, 'secret/vault', 'v1', root);
  });
  after(async () => {
    await registry.stop();
  });

  async function status(method: string, path: string, credentials: Credentials): Promise<number> {
    const response = await call(url, method, path, credentials);
    await response.arrayBuffer();
    return response.status;
  }

  it('GET /v2/ without credentials → 401 UNAUTHORIZED with WWW-Authenticate: Basic realm', async () => {
    const response = await call(url, 'GET', '/v2/', undefined);
    assert.equal(response.headers.get('www-authenticate'), 'Basic realm="Berth test"');
    await expectError(response, 401, 'UNAUTHORIZED', 'no credentials');
  });

  it('GET /v2/ with good credentials → 200', async () => {
    assert.equal(await status('GET', '/v2/', alice), 200);
  });

  it('wrong password, unknown user, non-bcrypt entry, malformed header → 401 UNAUTHORIZED with the challenge', async () => {
    for (const [label, credentials] of [
      ['wrong password', { user: 'alice', password: 'nope' }],
      ['unknown user', { user: 'mallory', password: 'alice-Secret-1' }],
      ['empty password', { user: 'alice', password: '' }],
      ['non-bcrypt entry', { user: 'plain', password: 'password' }],
    ] as const) {
      const response = await call(url, 'GET', '/v2/team/app/tags/list', credentials);
      assert.equal(response.headers.get('www-authenticate'), 'Basic realm="Berth test"', label);
      await expectError(response, 401, 'UNAUTHORIZED', label);
    }
    for (const header of ['Basic', 'Basic !!!', 'Bearer abc', `Basic ${Buffer.from('nocolon').toString('base64')}`]) {
      const response = await call(url, 'GET', '/v2/team/app/tags/list', undefined, { headers: { Authorization: header } });
      await expectError(response, 401, 'UNAUTHORIZED', header);
    }
  });

  it('anonymous pull where the policy allows it → 200; anonymous push → 401, nothing written', async () => {
    assert.equal(await status('GET', '/v2/public/base/manifests/v1', undefined), 200);
    assert.equal(await status('GET', '/v2/public/base/tags/list', undefined), 200);
    // containers/image answers a Basic challenge it has no login for with empty credentials.
    assert.equal(await status('GET', '/v2/public/base/tags/list', { user: '', password: '' }), 200);
    const response = await call(url, 'POST', '/v2/public/base/blobs/uploads/', undefined);
    await expectError(response, 401, 'UNAUTHORIZED', 'anonymous push');
    const put = await call(url, 'PUT', '/v2/public/base/manifests/evil', undefined, { headers: { 'Content-Type': team.manifest.mediaType }, body: team.manifest.bytes });
    await expectError(put, 401, 'UNAUTHORIZED', 'anonymous manifest PUT');
    const tags = (await (await call(url, 'GET', '/v2/public/base/tags/list', undefined)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);
  });

  it('anonymous pull of a private repository → 401 UNAUTHORIZED (tags, manifest, blob, referrers)', async () => {
    const digest = team.blobs[0]?.digest ?? '';
    for (const path of ['/v2/team/app/tags/list', '/v2/team/app/manifests/v1', `/v2/team/app/blobs/${digest}`, `/v2/team/app/referrers/${team.manifest.digest}`]) {
      await expectError(await call(url, 'GET', path, undefined), 401, 'UNAUTHORIZED', path);
    }
  });

  it('a reader (by group) pulls team/app → 200, but push, tag and delete → 403 DENIED and nothing changes', async () => {
    assert.equal(await status('GET', '/v2/team/app/manifests/v1', bob), 200);
    assert.equal(await status('GET', `/v2/team/app/blobs/${team.blobs[0]?.digest ?? ''}`, bob), 200);
    await expectError(await call(url, 'POST', '/v2/team/app/blobs/uploads/', bob), 403, 'DENIED', 'reader starts an upload');
    const put = await call(url, 'PUT', '/v2/team/app/manifests/hijack', bob, { headers: { 'Content-Type': team.manifest.mediaType }, body: team.manifest.bytes });
    await expectError(put, 403, 'DENIED', 'reader tags');
    await expectError(await call(url, 'DELETE', `/v2/team/app/manifests/${team.manifest.digest}`, bob), 403, 'DENIED', 'reader deletes a manifest');
    await expectError(await call(url, 'DELETE', `/v2/team/app/blobs/${team.blobs[0]?.digest ?? ''}`, bob), 403, 'DENIED', 'reader deletes a blob');
    const tags = (await (await call(url, 'GET', '/v2/team/app/tags/list', alice)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);
    assert.equal(await status('GET', '/v2/team/app/manifests/v1', alice), 200);
  });

  it('an upload session of one user cannot be continued in a repository the other may not push to', async () => {
    const start = await call(url, 'POST', '/v2/team/app/blobs/uploads/', alice);
    await start.arrayBuffer();
    assert.equal(start.status, 202);
    const location = pathOf(start.headers.get('location') ?? '');
    await expectError(await call(url, 'PATCH', location, bob, { body: Buffer.from('x') }), 403, 'DENIED', 'reader PATCH');
    await expectError(await call(url, 'GET', location, bob), 403, 'DENIED', 'reader upload status');
    await expectError(await call(url, 'DELETE', location, bob), 403, 'DENIED', 'reader cancel');
    await expectError(await call(url, 'GET', location, undefined), 401, 'UNAUTHORIZED', 'anonymous upload status');
    assert.equal(await status('GET', location, alice), 204);
  });

  it('a user with no grant on a repository → 403 DENIED on pull; the admin may do everything', async () => {
    await expectError(await call(url, 'GET', '/v2/secret/vault/manifests/v1', alice), 403, 'DENIED', 'alice pulls secret');
    await expectError(await call(url, 'GET', '/v2/secret/vault/tags/list', bob), 403, 'DENIED', 'bob lists secret tags');
    assert.equal(await status('GET', '/v2/secret/vault/manifests/v1', root), 200);
    assert.equal(await status('DELETE', '/v2/team/app/manifests/nonexistent', root), 404);
  });

  it('globs do not leak: team/** grants nothing on team-evil/app or teamx; bob/* not bob/a/b', async () => {
    await expectError(await call(url, 'POST', '/v2/team-evil/app/blobs/uploads/', alice), 403, 'DENIED', 'team-evil');
    await expectError(await call(url, 'POST', '/v2/teamx/blobs/uploads/', alice), 403, 'DENIED', 'teamx');
    await expectError(await call(url, 'POST', '/v2/bob/a/b/blobs/uploads/', bob), 403, 'DENIED', 'bob/a/b');
    assert.equal(await status('POST', '/v2/bob/a/blobs/uploads/', bob), 202);
  });

  it('name tricks are refused before any access decision: dot segments (encoded or not), upper case → 400 NAME_INVALID', async () => {
    for (const path of ['/v2/public/../secret/vault/tags/list', '/v2/public/base/..%2f..%2fsecret/vault/tags/list', '/v2/Secret/vault/tags/list', '/v2/public//secret/tags/list', '/v2/public%2f%2fsecret/tags/list']) {
      const response = await rawRequest(url, { path });
      const body = response.body.toString('utf8');
      assert.ok(response.status === 400 || response.status === 404, `${path}: ${response.status}`);
      assert.doesNotMatch(body, /vault|"tags"/, `${path} discloses nothing`);
    }
    // An encoded slash is a slash: the decoded name gets the same access decision as its plain spelling.
    const encoded = await rawRequest(url, { path: '/v2/secret%2fvault/tags/list' });
    const spelled = await rawRequest(url, { path: '/v2/secret/vault/tags/list' });
    assert.equal(encoded.status, spelled.status);
    assert.equal(encoded.status, 401);
    assert.doesNotMatch(encoded.body.toString('utf8'), /"tags"/);
    const dots = await rawRequest(url, { path: '/v2/public/../secret/vault/tags/list' });
    assert.equal(dots.status, 400);
    assert.equal((JSON.parse(dots.body.toString('utf8')) as { errors: { code: string }[] }).errors[0]?.code, 'NAME_INVALID');
  });

  it('catalog lists only what the caller may pull; anonymous sees only public; the admin sees everything', async () => {
    const list = async (credentials: Credentials, query = ''): Promise<string[]> => {
      const response = await call(url, 'GET', `/v2/_catalog${query}`, credentials);
      assert.equal(response.status, 200);
      return ((await response.json()) as { repositories: string[] }).repositories;
    };
    assert.deepEqual(await list(undefined), ['public/base']);
    // bob reads team/** by group, and public/** like everyone.
    assert.deepEqual(await list(bob), ['public/base', 'team/app']);
    assert.deepEqual(await list(alice), ['public/base', 'team/app']);
    assert.deepEqual(await list(root), ['public/base', 'secret/vault', 'team/app']);
    // Paging keeps full pages of visible names and never names a hidden one in Link.
    const first = await call(url, 'GET', '/v2/_catalog?n=1', alice);
    assert.deepEqual(((await first.json()) as { repositories: string[] }).repositories, ['public/base']);
    assert.match(first.headers.get('link') ?? '', /last=public%2Fbase/);
    assert.deepEqual(await list(alice, '?n=1&last=public%2Fbase'), ['team/app']);
  });

  it('GET /usage shows a caller only the repositories it may list (and namespaces it may wholly pull), and totals only to the admin', async () => {
    const view = async (credentials: Credentials): Promise<{ repositories: Array<{ scope: string }>; registry?: unknown; namespaces?: Array<{ scope: string }> }> => {
      const response = await call(url, 'GET', '/usage', credentials);
      assert.equal(response.status, 200);
      return (await response.json()) as { repositories: Array<{ scope: string }>; registry?: unknown; namespaces?: Array<{ scope: string }> };
    };
    const forAlice = await view(alice);
    assert.deepEqual(forAlice.repositories.map((row) => row.scope).sort(), ['public/base', 'team/app']);
    assert.equal(forAlice.registry, undefined);
    assert.deepEqual(forAlice.namespaces?.map((row) => row.scope).sort(), ['public', 'team']);
    const forRoot = await view(root);
    assert.ok(forRoot.repositories.some((row) => row.scope === 'secret/vault'));
    assert.notEqual(forRoot.registry, undefined);
    const single = await call(url, 'GET', '/usage/team/app', alice);
    assert.equal(single.status, 200);
    assert.equal(((await single.json()) as { namespace?: { scope: string } }).namespace?.scope, 'team');
    await expectError(await call(url, 'GET', '/usage/secret/vault', alice), 403, 'DENIED', 'usage of an unreadable repository');
  });

  it('a mount from a repository the caller cannot read → 202 (a normal upload), nothing linked; with pull on the source → 201', async () => {
    const digest = team.blobs[1]?.digest ?? '';
    const secretLayer = await call(url, 'GET', '/v2/secret/vault/manifests/v1', root);
    const secretDigest = ((await secretLayer.json()) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
    // alice cannot read secret/vault: mounting its layer into team/app falls back to an upload.
    const refused = await call(url, 'POST', `/v2/team/app/blobs/uploads/?mount=${secretDigest}&from=secret/vault`, alice);
    await refused.arrayBuffer();
    assert.equal(refused.status, 202);
    assert.equal(await status('HEAD', `/v2/team/app/blobs/${secretDigest}`, alice), 404);
    // Nor without `from` (an automatic mount would look everywhere).
    const automatic = await call(url, 'POST', `/v2/team/app/blobs/uploads/?mount=${secretDigest}`, alice);
    await automatic.arrayBuffer();
    assert.equal(automatic.status, 202);
    assert.equal(await status('HEAD', `/v2/team/app/blobs/${secretDigest}`, alice), 404);
    // bob may read team/app and push bob/*: the mount works.
    const mounted = await call(url, 'POST', `/v2/bob/copy/blobs/uploads/?mount=${digest}&from=team/app`, bob);
    await mounted.arrayBuffer();
    assert.equal(mounted.status, 201);
    assert.equal(await status('HEAD', `/v2/bob/copy/blobs/${digest}`, bob), 200);
  });

  it('the htpasswd file is reloaded when it changes', async () => {
    const carol = { user: 'carol', password: 'carol-Secret-4' };
    await expectError(await call(url, 'GET', '/v2/', carol), 401, 'UNAUTHORIZED', 'before');
    appendFileSync(join(registry.dir, 'htpasswd'), `${htpasswdLine(carol.user, carol.password)}\n`);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(await status('GET', '/v2/', carol), 200);
  });

  it('passwords and Authorization values never reach a log line', async () => {
    await call(url, 'GET', '/v2/', { user: 'alice', password: 'Wr0ng-Pa55word-xyz' });
    const text = registry.logs();
    assert.match(text, /failed login/);
    for (const secret of [alice.password, bob.password, root.password, 'Wr0ng-Pa55word-xyz', Buffer.from(`alice:${alice.password}`).toString('base64')]) {
      assert.ok(!text.includes(secret), `a secret appears in the log`);
    }
  });
});

describe('access control: failed logins are delayed, limited, and cost the same for unknown users', () => {
  let registry: AuthRegistry;

  before(async () => {
    const dir = tempDir('berth-auth-limit-');
    writeFileSync(join(dir, 'htpasswd'), `${htpasswdLine(alice.user, alice.password, 10)}\n`);
    registry = await startAuthRegistry(`auth: { htpasswd: { realm: r, path: \${dir}/htpasswd }, ratelimit: { attempts: 8, window: 1m, delay: 10ms } }`, dir);
  });
  after(async () => {
    await registry.stop();
  });

  it('an unknown user costs the same bcrypt work as a wrong password', async () => {
    const time = async (credentials: Credentials): Promise<number> => {
      const started = performance.now();
      const response = await call(registry.url, 'GET', '/v2/', credentials);
      await response.arrayBuffer();
      assert.equal(response.status, 401);
      return performance.now() - started;
    };
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      wrong.push(await time({ user: 'alice', password: `wrong-${i}` }));
      unknown.push(await time({ user: `nobody-${i}`, password: `wrong-${i}` }));
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[1] ?? 0;
    // Cost 10 bcrypt is tens of milliseconds; a lookup that skipped it would be far below half.
    assert.ok(median(unknown) > median(wrong) * 0.6, `unknown ${median(unknown).toFixed(1)} ms vs wrong ${median(wrong).toFixed(1)} ms`);
    assert.ok(median(unknown) < median(wrong) * 1.7, `unknown ${median(unknown).toFixed(1)} ms vs wrong ${median(wrong).toFixed(1)} ms`);
  });

  it('past the limit → 429 TOOMANYREQUESTS with Retry-After, even with the right password; anonymous requests still get 401', async () => {
    for (let i = 0; i < 3; i++) await (await call(registry.url, 'GET', '/v2/', { user: 'alice', password: 'x' })).arrayBuffer();
    const limited = await call(registry.url, 'GET', '/v2/', alice);
    const retryAfter = Number(limited.headers.get('retry-after'));
    await expectError(limited, 429, 'TOOMANYREQUESTS', 'over the limit');
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    await expectError(await call(registry.url, 'GET', '/v2/', undefined), 401, 'UNAUTHORIZED', 'anonymous');
  });
});
