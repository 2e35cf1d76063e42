// GET /usage and GET /usage/<repository> under access control, through the built-in token service
// (docs/lifecycle.md, "Usage"): a caller sees the usage of what it may pull; a namespace only when
// it may pull every repository of it; the registry's totals only with the whole catalog (an admin);
// anonymous callers follow the anonymous policies.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, expectError, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry, type Credentials } from '../support/auth.js';

const alice = { user: 'alice', password: 'alice-Secret-1' };
const bob = { user: 'bob', password: 'bob-Secret-2' };
const root = { user: 'root', password: 'root-Secret-3' };

interface UsageRow {
  scope: string;
  blobBytes: number;
  manifestBytes: number;
}
interface RegistryView {
  registry?: UsageRow;
  unreferenced?: unknown;
  namespaces?: UsageRow[];
  repositories: UsageRow[];
}
interface RepositoryView {
  repository: UsageRow;
  namespace?: UsageRow;
  quotas: { scope: string; per: string; limitBytes: number }[];
}

async function startTokenRegistry(policies: string): Promise<AuthRegistry> {
  const dir = tempDir('berth-usage-access-');
  writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(alice.user, alice.password), htpasswdLine(bob.user, bob.password), htpasswdLine(root.user, root.password), ''].join('\n'));
  return startAuthRegistry(
    `auth:
  htpasswd: { realm: tokens, path: \${dir}/htpasswd }
  tokenservice: { enabled: true }
  token: { service: berth-test, issuer: berth-issuer }
  ratelimit: { attempts: 1000, delay: 0s }
  admins: [root]
${policies}
lifecycle:
  quotas:
    - { repositories: ["team/**"], limit: 1GiB, per: namespace }`,
    dir,
  );
}

/** A token of the built-in service for `scopes` (anonymous without credentials). */
async function token(url: string, credentials: { user: string; password: string } | undefined, ...scopes: string[]): Promise<Credentials> {
  const query = new URLSearchParams({ service: 'berth-test' });
  for (const scope of scopes) query.append('scope', scope);
  const headers: Record<string, string> = credentials === undefined ? {} : { Authorization: `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}` };
  const response = await fetch(`${url}/auth/token?${query.toString()}`, { headers });
  assert.equal(response.status, 200, `token for ${credentials?.user ?? 'anonymous'}`);
  return { token: ((await response.json()) as { token: string }).token };
}

async function json<T>(response: Response, context: string): Promise<T> {
  assert.equal(response.status, 200, context);
  return (await response.json()) as T;
}

describe('GET /usage with the built-in token service and anonymous policies', () => {
  let registry: AuthRegistry;
  let url: string;
  const catalog = 'registry:catalog:*';

  before(async () => {
    registry = await startTokenRegistry(`  policies:
    - { repositories: ["public/**"], anonymous: true, actions: [pull] }
    - { repositories: ["team/**"], users: [alice], actions: [pull, push] }
    - { repositories: ["team/app"], users: [bob], actions: [pull] }`);
    url = registry.url;
    for (const repository of ['team/app', 'team/secret', 'public/base', 'secret/vault']) {
      await pushImageAs(url, repository, 'v1', await token(url, root, `repository:${repository}:pull,push`));
    }
  });
  after(async () => {
    await registry.stop();
  });

  it('an admin gets the registry totals, the unreferenced bytes, every namespace and every repository', async () => {
    const view = await json<RegistryView>(await call(url, 'GET', '/usage', await token(url, root, catalog)), 'admin GET /usage');
    assert.ok((view.registry?.blobBytes ?? 0) > 0);
    assert.notEqual(view.unreferenced, undefined);
    assert.deepEqual(view.namespaces?.map((row) => row.scope).sort(), ['public', 'secret', 'team']);
    assert.deepEqual(view.repositories.map((row) => row.scope).sort(), ['public/base', 'secret/vault', 'team/app', 'team/secret']);
    const one = await json<RepositoryView>(await call(url, 'GET', '/usage/secret/vault', await token(url, root, 'repository:secret/vault:pull')), 'admin GET /usage/secret/vault');
    assert.equal(one.namespace?.scope, 'secret');
  });

  it('a non-admin gets what it may pull: its repositories and the namespaces it may pull wholly, no totals', async () => {
    const view = await json<RegistryView>(await call(url, 'GET', '/usage', await token(url, alice, catalog)), 'alice GET /usage');
    assert.equal(view.registry, undefined);
    assert.equal(view.unreferenced, undefined);
    assert.deepEqual(view.repositories.map((row) => row.scope).sort(), ['public/base', 'team/app', 'team/secret']);
    assert.deepEqual(view.namespaces?.map((row) => row.scope).sort(), ['public', 'team']);
    const team = view.namespaces?.find((row) => row.scope === 'team');
    const [app, secret] = ['team/app', 'team/secret'].map((name) => view.repositories.find((row) => row.scope === name));
    assert.equal(team?.blobBytes, (app?.blobBytes ?? 0) + (secret?.blobBytes ?? 0), 'the two images share no blob');
    // bob may pull team/app but not team/secret: the team namespace stays hidden from him.
    const forBob = await json<RegistryView>(await call(url, 'GET', '/usage', await token(url, bob, catalog)), 'bob GET /usage');
    assert.deepEqual(forBob.repositories.map((row) => row.scope).sort(), ['public/base', 'team/app']);
    assert.deepEqual(forBob.namespaces?.map((row) => row.scope), ['public']);
  });

  it('GET /usage/team/secret by a user who may pull team/** has the namespace object and the quota that applies', async () => {
    const view = await json<RepositoryView>(await call(url, 'GET', '/usage/team/secret', await token(url, alice, 'repository:team/secret:pull')), 'alice GET /usage/team/secret');
    assert.equal(view.repository.scope, 'team/secret');
    assert.equal(view.namespace?.scope, 'team');
    assert.ok((view.namespace?.blobBytes ?? 0) > view.repository.blobBytes);
    assert.deepEqual(view.quotas, [{ scope: 'team', per: 'namespace', limitBytes: 1024 ** 3 }]);
    // bob pulls team/app but not all of team: the repository and the quota, no namespace.
    const forBob = await json<RepositoryView>(await call(url, 'GET', '/usage/team/app', await token(url, bob, 'repository:team/app:pull')), 'bob GET /usage/team/app');
    assert.equal(forBob.namespace, undefined);
    assert.deepEqual(forBob.quotas, [{ scope: 'team', per: 'namespace', limitBytes: 1024 ** 3 }]);
    await expectError(await call(url, 'GET', '/usage/team/secret', await token(url, bob, 'repository:team/secret:pull')), 403, 'DENIED', 'bob GET /usage/team/secret');
  });

  it('anonymous callers see what the anonymous policies let them pull, with or without an anonymous token', async () => {
    for (const credentials of [undefined, await token(url, undefined, catalog)]) {
      const view = await json<RegistryView>(await call(url, 'GET', '/usage', credentials), `anonymous GET /usage (${credentials === undefined ? 'no token' : 'token'})`);
      assert.equal(view.registry, undefined);
      assert.deepEqual(view.repositories.map((row) => row.scope), ['public/base']);
      assert.deepEqual(view.namespaces?.map((row) => row.scope), ['public']);
    }
    const one = await json<RepositoryView>(await call(url, 'GET', '/usage/public/base', undefined), 'anonymous GET /usage/public/base');
    assert.equal(one.namespace?.scope, 'public');
    const refused = await call(url, 'GET', '/usage/team/app', undefined);
    assert.equal(refused.headers.get('www-authenticate'), `Bearer realm="${url}/auth/token",service="berth-test",scope="repository:team/app:pull"`);
    await expectError(refused, 401, 'UNAUTHORIZED', 'anonymous GET /usage/team/app');
  });
});

describe('GET /usage with the built-in token service and no anonymous policy', () => {
  let registry: AuthRegistry;
  let url: string;

  before(async () => {
    registry = await startTokenRegistry(`  policies:
    - { repositories: ["team/**"], users: [alice], actions: [pull, push] }`);
    url = registry.url;
    await pushImageAs(url, 'team/app', 'v1', await token(url, alice, 'repository:team/app:pull,push'));
  });
  after(async () => {
    await registry.stop();
  });

  it('anonymous GET /usage → 401 with a challenge for the catalog scope; an anonymous token gets 403', async () => {
    const response = await call(url, 'GET', '/usage', undefined);
    assert.equal(response.headers.get('www-authenticate'), `Bearer realm="${url}/auth/token",service="berth-test",scope="registry:catalog:*"`);
    await expectError(response, 401, 'UNAUTHORIZED', 'anonymous GET /usage');
    await expectError(await call(url, 'GET', '/usage', await token(url, undefined, 'registry:catalog:*')), 403, 'DENIED', 'anonymous token on GET /usage');
    await expectError(await call(url, 'GET', '/usage/team/app', undefined), 401, 'UNAUTHORIZED', 'anonymous GET /usage/team/app');
  });

  it('a user still gets its own repositories and namespace', async () => {
    const view = await json<RegistryView>(await call(url, 'GET', '/usage', await token(url, alice, 'registry:catalog:*')), 'alice GET /usage');
    assert.deepEqual(view.repositories.map((row) => row.scope), ['team/app']);
    assert.deepEqual(view.namespaces?.map((row) => row.scope), ['team']);
  });
});
