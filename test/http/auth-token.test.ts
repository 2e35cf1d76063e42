// Access control with tokens: the built-in token service (GET and OAuth2 POST, refresh tokens,
// JWKS), Bearer challenges with the scope a request needs, and the attack cases on tokens
// (expired, not yet valid, wrong audience or issuer, alg none, HMAC confusion, another key, a token
// for one repository used on another, a pull token used to push); then an external token server
// trusted through auth.token.jwks and auth.token.rootcertbundle.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { call, expectError, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry, type Credentials } from '../support/auth.js';

const alice = { user: 'alice', password: 'alice-Secret-1' };
const bob = { user: 'bob', password: 'bob-Secret-2' };
const root = { user: 'root', password: 'root-Secret-3' };

const POLICIES = `
  admins: [root]
  groups: { readers: [bob] }
  policies:
    - { repositories: ["public/**"], anonymous: true, actions: [pull] }
    - { repositories: ["public/**", "team/**"], users: [alice], actions: [pull, push] }
    - { repositories: ["team/**"], groups: [readers], actions: [pull] }
    - { repositories: ["bob/*"], users: [bob], actions: [pull, push, delete] }
`;

interface TokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

function basic(credentials: { user: string; password: string }): string {
  return `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
}

async function sign(key: KeyObject, claims: Record<string, unknown>, options: { alg?: string; kid?: string; iss?: string; aud?: string; sub?: string; exp?: number | null; nbf?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'ES256', ...(options.kid === undefined ? {} : { kid: options.kid }), typ: 'JWT' })
    .setIssuer(options.iss ?? 'berth-issuer')
    .setAudience(options.aud ?? 'berth-test')
    .setSubject(options.sub ?? 'alice')
    .setIssuedAt(now)
    .setNotBefore(options.nbf ?? now)
    .setJti(randomUUID());
  if (options.exp !== null) jwt = jwt.setExpirationTime(options.exp ?? now + 300);
  return jwt.sign(key);
}

function unsigned(claims: Record<string, unknown>): string {
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
}

describe('access control: the built-in token service', () => {
  let registry: AuthRegistry;
  let url: string;
  let key: KeyObject;
  let kid: string;
  let team: Awaited<ReturnType<typeof pushImageAs>>;

  async function token(credentials: { user: string; password: string } | undefined, ...scopes: string[]): Promise<string> {
    const query = new URLSearchParams({ service: 'berth-test' });
    for (const scope of scopes) query.append('scope', scope);
    const response = await fetch(`${url}/auth/token?${query.toString()}`, { headers: credentials === undefined ? {} : { Authorization: basic(credentials) } });
    assert.equal(response.status, 200, `token for ${credentials?.user ?? 'anonymous'}`);
    return ((await response.json()) as TokenBody).token;
  }

  async function status(method: string, path: string, credentials: Credentials): Promise<number> {
    const response = await call(url, method, path, credentials);
    await response.arrayBuffer();
    return response.status;
  }

  before(async () => {
    const dir = tempDir('berth-auth-token-');
    writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(alice.user, alice.password), htpasswdLine(bob.user, bob.password), htpasswdLine(root.user, root.password), ''].join('\n'));
    registry = await startAuthRegistry(
      `auth:
  htpasswd: { realm: tokens, path: \${dir}/htpasswd }
  tokenservice: { enabled: true, keyfile: \${dir}/keys/token.pem }
  token: { service: berth-test, issuer: berth-issuer }
  ratelimit: { attempts: 1000, delay: 0s }
${POLICIES}`,
      dir,
    );
    url = registry.url;
    // The key was generated on first start and written where configured.
    key = createPrivateKey(readFileSync(join(dir, 'keys', 'token.pem')));
    kid = ((await (await fetch(`${url}/auth/jwks.json`)).json()) as { keys: { kid: string }[] }).keys[0]?.kid ?? '';
    team = await pushImageAs(url, 'team/app', 'v1', { token: await token(alice, 'repository:team/app:pull,push') });
    await pushImageAs(url, 'public/base', 'v1', { token: await token(alice, 'repository:public/base:pull,push') });
    await pushImageAs(url, 'secret/vault', 'v1', { token: await token(root, 'repository:secret/vault:pull,push') });
  });
  after(async () => {
    await registry.stop();
  });

  it('GET /v2/ without a token → 401 UNAUTHORIZED with a Bearer challenge naming the built-in realm and the service', async () => {
    const response = await call(url, 'GET', '/v2/', undefined);
    assert.equal(response.headers.get('www-authenticate'), `Bearer realm="${url}/auth/token",service="berth-test"`);
    await expectError(response, 401, 'UNAUTHORIZED', 'no token');
  });

  it('behind a proxy, the built-in realm follows X-Forwarded-Proto and X-Forwarded-Host like every absolute URL', async () => {
    const response = await fetch(`${url}/v2/`, { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'registry.example.com' } });
    await response.arrayBuffer();
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="https://registry.example.com/auth/token",service="berth-test"');
  });

  it('a request without a token → 401 whose challenge carries the scope it needs', async () => {
    const pull = await call(url, 'GET', '/v2/team/app/manifests/v1', undefined);
    assert.equal(pull.headers.get('www-authenticate'), `Bearer realm="${url}/auth/token",service="berth-test",scope="repository:team/app:pull"`);
    await expectError(pull, 401, 'UNAUTHORIZED', 'pull');
    const push = await call(url, 'POST', '/v2/team/app/blobs/uploads/', undefined);
    assert.match(push.headers.get('www-authenticate') ?? '', /,scope="repository:team\/app:pull,push"$/);
    await expectError(push, 401, 'UNAUTHORIZED', 'push');
    const catalog = await call(url, 'GET', '/v2/_catalog', { user: 'alice', password: alice.password });
    assert.match(catalog.headers.get('www-authenticate') ?? '', /,scope="registry:catalog:\*"$/);
    await expectError(catalog, 401, 'UNAUTHORIZED', 'Basic credentials on a token registry');
  });

  it('the token carries only what the policy grants: bob asks pull,push on team/app and gets pull', async () => {
    const response = await fetch(`${url}/auth/token?service=berth-test&scope=repository:team/app:pull,push&scope=repository:secret/vault:pull`, { headers: { Authorization: basic(bob) } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const body = (await response.json()) as TokenBody;
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    assert.equal(body.refresh_token, undefined);
    const claims = decodeJwt(body.token);
    assert.equal(claims.sub, 'bob');
    assert.equal(claims.iss, 'berth-issuer');
    assert.equal(claims.aud, 'berth-test');
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    assert.equal(decodeProtectedHeader(body.token).kid, kid);
  });

  it('a pull token pulls (200) but cannot push or delete (403 DENIED), and nothing is written', async () => {
    const pull: Credentials = { token: await token(bob, 'repository:team/app:pull,push,delete') };
    assert.equal(await status('GET', '/v2/team/app/manifests/v1', pull), 200);
    assert.equal(await status('HEAD', `/v2/team/app/blobs/${team.blobs[0]?.digest ?? ''}`, pull), 200);
    await expectError(await call(url, 'POST', '/v2/team/app/blobs/uploads/', pull), 403, 'DENIED', 'push with a pull token');
    const put = await call(url, 'PUT', '/v2/team/app/manifests/hijack', pull, { headers: { 'Content-Type': team.manifest.mediaType }, body: team.manifest.bytes });
    await expectError(put, 403, 'DENIED', 'tag with a pull token');
    await expectError(await call(url, 'DELETE', `/v2/team/app/manifests/${team.manifest.digest}`, pull), 403, 'DENIED', 'delete with a pull token');
    const tags = (await (await call(url, 'GET', '/v2/team/app/tags/list', pull)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);
  });

  it('a token for repository A used on B → 401 insufficient_scope when the policy would grant B, 403 DENIED when not', async () => {
    const forTeam: Credentials = { token: await token(alice, 'repository:team/app:pull,push') };
    const widen = await call(url, 'POST', '/v2/public/base/blobs/uploads/', forTeam);
    assert.equal(
      widen.headers.get('www-authenticate'),
      `Bearer realm="${url}/auth/token",service="berth-test",scope="repository:public/base:pull,push",error="insufficient_scope"`,
    );
    await expectError(widen, 401, 'UNAUTHORIZED', 'token for team/app on public/base');
    await expectError(await call(url, 'GET', '/v2/secret/vault/manifests/v1', forTeam), 403, 'DENIED', 'token for team/app on secret/vault');
  });

  it('a token signed with the service key that claims more than the policy grants is still held to the policy → 403 DENIED', async () => {
    const forged = await sign(key, { access: [{ type: 'repository', name: 'secret/vault', actions: ['pull', 'push', 'delete'] }] }, { kid, sub: 'alice' });
    await expectError(await call(url, 'GET', '/v2/secret/vault/manifests/v1', { token: forged }), 403, 'DENIED', 'claims beyond the policy');
  });

  it('expired, not yet valid, wrong audience, wrong issuer, no exp, alg none, HMAC, another key → 401 UNAUTHORIZED error="invalid_token"', async () => {
    const access = { access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] };
    const now = Math.floor(Date.now() / 1000);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const publicPem = createPublicKey(key).export({ format: 'pem', type: 'spki' });
    const hmac = await new SignJWT(access)
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer('berth-issuer')
      .setAudience('berth-test')
      .setSubject('alice')
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode(String(publicPem)));
    const cases: [string, string][] = [
      ['expired', await sign(key, access, { kid, exp: now - 120 })],
      ['not yet valid', await sign(key, access, { kid, nbf: now + 600 })],
      ['wrong audience', await sign(key, access, { kid, aud: 'another-service' })],
      ['wrong issuer', await sign(key, access, { kid, iss: 'someone-else' })],
      ['no exp', await sign(key, access, { kid, exp: null })],
      ['alg none', unsigned({ ...access, iss: 'berth-issuer', aud: 'berth-test', sub: 'alice', exp: now + 300 })],
      ['HMAC with the public key as secret', hmac],
      ['another key, same kid', await sign(other, access, { kid })],
      ['another key, no kid', await sign(other, access)],
      ['garbage', 'not.a.token'],
    ];
    for (const [label, value] of cases) {
      const response = await call(url, 'GET', '/v2/team/app/manifests/v1', { token: value });
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm=.*,scope="repository:team\/app:pull",error="invalid_token"$/, label);
      await expectError(response, 401, 'UNAUTHORIZED', label);
    }
    // Within the leeway (60 s) a just-expired token is still accepted.
    assert.equal(await status('GET', '/v2/team/app/manifests/v1', { token: await sign(key, access, { kid, exp: now - 20 }) }), 200);
  });

  it('anonymous tokens carry only the anonymous policy; anonymous pull of public works with and without a token', async () => {
    const anonymous = await token(undefined, 'repository:public/base:pull,push', 'repository:team/app:pull');
    assert.deepEqual(decodeJwt(anonymous).access, [{ type: 'repository', name: 'public/base', actions: ['pull'] }]);
    assert.equal(decodeJwt(anonymous).sub, '');
    assert.equal(await status('GET', '/v2/public/base/manifests/v1', { token: anonymous }), 200);
    assert.equal(await status('GET', '/v2/public/base/manifests/v1', undefined), 200);
    await expectError(await call(url, 'GET', '/v2/team/app/manifests/v1', { token: anonymous }), 403, 'DENIED', 'anonymous token on team/app');
  });

  it('GET /v2/ with any valid token → 200, an anonymous one included (as distribution); without one → 401, with a forged one → 401', async () => {
    const anonymous = await token(undefined);
    assert.equal(decodeJwt(anonymous).sub, '');
    assert.equal(await status('GET', '/v2/', { token: anonymous }), 200);
    assert.equal(await status('GET', '/v2/', { token: await token(bob) }), 200);
    await expectError(await call(url, 'GET', '/v2/', undefined), 401, 'UNAUTHORIZED', 'no token');
    await expectError(await call(url, 'GET', '/v2/', { token: `${anonymous.slice(0, -4)}AAAA` }), 401, 'UNAUTHORIZED', 'a token whose signature is wrong');
  });

  it('the token endpoint: wrong password or unknown user → 401 with a Basic challenge; unknown service → 400; bad grant → 400', async () => {
    for (const credentials of [{ user: 'alice', password: 'nope' }, { user: 'mallory', password: 'x' }]) {
      const response = await fetch(`${url}/auth/token?service=berth-test&scope=repository:team/app:pull`, { headers: { Authorization: basic(credentials) } });
      assert.equal(response.headers.get('www-authenticate'), 'Basic realm="tokens"');
      await expectError(response, 401, 'UNAUTHORIZED', credentials.user);
    }
    const service = await fetch(`${url}/auth/token?service=other`, { headers: { Authorization: basic(alice) } });
    assert.equal(service.status, 400);
    assert.equal(((await service.json()) as { error: string }).error, 'invalid_request');
    const grant = await fetch(`${url}/auth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    assert.equal(grant.status, 400);
    assert.equal(((await grant.json()) as { error: string }).error, 'unsupported_grant_type');
    const bad = await fetch(`${url}/auth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=alice&password=wrong&service=berth-test' });
    await expectError(bad, 401, 'UNAUTHORIZED', 'password grant with a wrong password');
  });

  it('OAuth2: the password grant with access_type=offline returns a refresh token; the refresh grant issues tokens; a refresh token is no access token', async () => {
    const form = (fields: Record<string, string>): RequestInit => ({ method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    const first = await fetch(`${url}/auth/token`, form({ grant_type: 'password', username: 'alice', password: alice.password, service: 'berth-test', client_id: 'test', access_type: 'offline', scope: 'repository:team/app:pull' }));
    assert.equal(first.status, 200);
    const body = (await first.json()) as TokenBody;
    assert.ok(body.refresh_token !== undefined);
    assert.deepEqual(decodeJwt(body.access_token).access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const refreshed = await fetch(`${url}/auth/token`, form({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'berth-test', client_id: 'test', scope: 'repository:team/app:pull,push' }));
    assert.equal(refreshed.status, 200);
    const next = (await refreshed.json()) as TokenBody;
    assert.deepEqual(decodeJwt(next.access_token).access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    assert.equal(await status('GET', '/v2/team/app/manifests/v1', { token: next.access_token }), 200);
    await expectError(await call(url, 'GET', '/v2/team/app/manifests/v1', { token: body.refresh_token }), 401, 'UNAUTHORIZED', 'refresh token as access token');
    const forged = await fetch(`${url}/auth/token`, form({ grant_type: 'refresh_token', refresh_token: body.access_token, service: 'berth-test' }));
    assert.equal(forged.status, 400);
    // docker login's GET form: offline_token=true.
    const offline = await fetch(`${url}/auth/token?service=berth-test&offline_token=true&client_id=docker`, { headers: { Authorization: basic(alice) } });
    assert.ok(((await offline.json()) as TokenBody).refresh_token !== undefined);
  });

  it('/auth/jwks.json publishes the signing key; issued tokens verify against it', async () => {
    const jwks = (await (await fetch(`${url}/auth/jwks.json`)).json()) as JSONWebKeySet;
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.d, undefined, 'no private part');
    const { payload } = await jwtVerify(await token(alice, 'repository:team/app:pull'), createLocalJWKSet(jwks), { issuer: 'berth-issuer', audience: 'berth-test' });
    assert.equal(payload.sub, 'alice');
  });

  it('catalog with a token lists only what the caller may pull', async () => {
    const list = async (credentials: { user: string; password: string } | undefined): Promise<string[]> => {
      const response = await call(url, 'GET', '/v2/_catalog', { token: await token(credentials, 'registry:catalog:*') });
      assert.equal(response.status, 200);
      return ((await response.json()) as { repositories: string[] }).repositories;
    };
    assert.deepEqual(await list(alice), ['public/base', 'team/app']);
    assert.deepEqual(await list(undefined), ['public/base']);
    assert.deepEqual(await list(root), ['public/base', 'secret/vault', 'team/app']);
  });

  it('a mount needs pull on the source, in the token and by the policy: without it → 202 (nothing linked), with it → 201', async () => {
    const digest = team.blobs[1]?.digest ?? '';
    const pushOnly: Credentials = { token: await token(bob, 'repository:bob/copy:pull,push') };
    const refused = await call(url, 'POST', `/v2/bob/copy/blobs/uploads/?mount=${digest}&from=team/app`, pushOnly);
    await refused.arrayBuffer();
    assert.equal(refused.status, 202);
    assert.equal(await status('HEAD', `/v2/bob/copy/blobs/${digest}`, pushOnly), 404);
    const withTeam: Credentials = { token: await token(bob, 'repository:bob/copy:pull,push', 'repository:team/app:pull') };
    const mounted = await call(url, 'POST', `/v2/bob/copy/blobs/uploads/?mount=${digest}&from=team/app`, withTeam);
    await mounted.arrayBuffer();
    assert.equal(mounted.status, 201);
    const secret = ((await (await call(url, 'GET', '/v2/secret/vault/manifests/v1', { token: await token(root, 'repository:secret/vault:pull') })).json()) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
    const withSource: Credentials = { token: await token(bob, 'repository:bob/copy:pull,push', 'repository:secret/vault:pull') };
    const fallback = await call(url, 'POST', `/v2/bob/copy/blobs/uploads/?mount=${secret}&from=secret/vault`, withSource);
    await fallback.arrayBuffer();
    assert.equal(fallback.status, 202);
    assert.equal(await status('HEAD', `/v2/bob/copy/blobs/${secret}`, withSource), 404);
  });

  it('passwords, tokens and refresh tokens never reach a log line', async () => {
    const issued = await token(alice, 'repository:team/app:pull');
    await call(url, 'GET', '/v2/team/app/manifests/v1', { token: issued });
    await call(url, 'GET', '/v2/team/app/manifests/v1', { token: `${issued}x` });
    const text = registry.logs();
    for (const secret of [alice.password, bob.password, root.password, issued.split('.')[2] ?? issued]) {
      assert.ok(!text.includes(secret), 'a secret appears in the log');
    }
  });
});

describe('access control: an external token server (auth.token.jwks, auth.token.rootcertbundle)', () => {
  let registry: AuthRegistry;
  let url: string;
  let jwksKey: KeyObject;
  let certKey: KeyObject;

  before(async () => {
    const dir = tempDir('berth-auth-ext-');
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    jwksKey = pair.privateKey;
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...pair.publicKey.export({ format: 'jwk' }), kid: 'ext-1', alg: 'ES256', use: 'sig' }] }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'cert-key.pem'), '-out', join(dir, 'bundle.pem'), '-subj', '/CN=token-signer', '-days', '2'], { stdio: 'ignore' });
    certKey = createPrivateKey(readFileSync(join(dir, 'cert-key.pem')));
    registry = await startAuthRegistry(
      `auth:
  token: { realm: "https://auth.example.com/token", service: berth-test, issuer: berth-issuer, jwks: \${dir}/jwks.json, rootcertbundle: \${dir}/bundle.pem }`,
      dir,
    );
    url = registry.url;
    const admin = await sign(jwksKey, { access: [{ type: 'repository', name: 'a/one', actions: ['pull', 'push'] }] }, { kid: 'ext-1' });
    await pushImageAs(url, 'a/one', 'v1', { token: admin });
  });
  after(async () => {
    await registry.stop();
  });

  it('the challenge names the configured realm', async () => {
    const response = await call(url, 'GET', '/v2/a/one/tags/list', undefined);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="https://auth.example.com/token",service="berth-test",scope="repository:a/one:pull"');
    await expectError(response, 401, 'UNAUTHORIZED', 'no token');
  });

  it('tokens signed by a JWKS key or a bundle certificate key are accepted for their scopes only', async () => {
    const viaJwks = await sign(jwksKey, { access: [{ type: 'repository', name: 'a/one', actions: ['pull'] }] }, { kid: 'ext-1' });
    const viaCert = await sign(certKey, { access: [{ type: 'repository', name: 'a/one', actions: ['pull'] }] }, { alg: 'RS256' });
    for (const value of [viaJwks, viaCert]) {
      const ok = await call(url, 'GET', '/v2/a/one/manifests/v1', { token: value });
      await ok.arrayBuffer();
      assert.equal(ok.status, 200);
      const push = await call(url, 'POST', '/v2/a/one/blobs/uploads/', { token: value });
      assert.match(push.headers.get('www-authenticate') ?? '', /error="insufficient_scope"$/);
      await expectError(push, 401, 'UNAUTHORIZED', 'pull token used to push');
      await expectError(await call(url, 'GET', '/v2/b/two/manifests/v1', { token: value }), 401, 'UNAUTHORIZED', 'token for a/one on b/two');
    }
    const unknownKey = await sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { access: [{ type: 'repository', name: 'a/one', actions: ['pull'] }] }, { kid: 'ext-1' });
    await expectError(await call(url, 'GET', '/v2/a/one/manifests/v1', { token: unknownKey }), 401, 'UNAUTHORIZED', 'unknown key');
    const rsWithEcKey = await sign(certKey, { access: [{ type: 'repository', name: 'a/one', actions: ['pull'] }] }, { alg: 'RS256', kid: 'ext-1' });
    assert.equal((await call(url, 'GET', '/v2/a/one/manifests/v1', { token: rsWithEcKey })).status, 200, 'a kid unknown to the JWKS falls through to the bundle');
  });

  it('a mount whose source the token cannot pull → 202; the catalog needs registry:catalog:*', async () => {
    const layer = ((await (await call(url, 'GET', '/v2/a/one/manifests/v1', { token: await sign(jwksKey, { access: [{ type: 'repository', name: 'a/one', actions: ['pull'] }] }, { kid: 'ext-1' }) })).json()) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
    const pushOnly = await sign(jwksKey, { access: [{ type: 'repository', name: 'b/two', actions: ['pull', 'push'] }] }, { kid: 'ext-1' });
    const refused = await call(url, 'POST', `/v2/b/two/blobs/uploads/?mount=${layer}&from=a/one`, { token: pushOnly });
    await refused.arrayBuffer();
    assert.equal(refused.status, 202);
    const both = await sign(jwksKey, { access: [{ type: 'repository', name: 'b/two', actions: ['pull', 'push'] }, { type: 'repository', name: 'a/one', actions: ['pull'] }] }, { kid: 'ext-1' });
    const mounted = await call(url, 'POST', `/v2/b/two/blobs/uploads/?mount=${layer}&from=a/one`, { token: both });
    await mounted.arrayBuffer();
    assert.equal(mounted.status, 201);
    await expectError(await call(url, 'GET', '/v2/_catalog', { token: both }), 401, 'UNAUTHORIZED', 'catalog without registry:catalog:*');
    const catalog = await call(url, 'GET', '/v2/_catalog', { token: await sign(jwksKey, { access: [{ type: 'registry', name: 'catalog', actions: ['*'] }] }, { kid: 'ext-1' }) });
    assert.equal(catalog.status, 200);
    // b/two holds a blob but no manifest yet, so it is not in the catalog.
    assert.deepEqual(((await catalog.json()) as { repositories: string[] }).repositories, ['a/one']);
  });
});
