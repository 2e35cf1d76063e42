// The namespace tree of the web UI's API (docs/api.md): GET /v2/_berth/browse/namespaces?prefix=
// lists the children of a prefix — repositories and deeper namespaces — with their usage, paged by
// a skip scan, and shows a caller who may list only some repositories only what holds them.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, expectError, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry, type Credentials } from '../support/auth.js';

const root = { user: 'root', password: 'root-Secret-3' };
const bob = { user: 'bob', password: 'bob-Secret-2' };

const CONFIG = `
auth:
  htpasswd: { realm: "Berth test", path: \${dir}/htpasswd }
  admins: [root]
  policies:
    - { repositories: ["team/db/**"], users: [bob], actions: [pull] }
  ratelimit: { attempts: 1000, delay: 0s }
`;

interface Child {
  name: string;
  path: string;
  repository: boolean;
  namespace: boolean;
  usage: { scope: string; blobs: number; blobBytes: number; manifests: number; tags: number } | null;
}

async function children(url: string, query: string, credentials: Credentials): Promise<{ children: Child[]; next: string | null; link: string | null }> {
  const response = await call(url, 'GET', `/v2/_berth/browse/namespaces${query}`, credentials);
  assert.equal(response.status, 200, query);
  const body = (await response.json()) as { children: Child[]; next: string | null };
  return { ...body, link: response.headers.get('link') };
}

const names = (page: { children: Child[] }): string[] => page.children.map((child) => `${child.name}${child.repository ? '' : '/'}${child.repository && child.namespace ? '+/' : ''}`);

describe('browse API: the namespace tree with usage', () => {
  let registry: AuthRegistry;
  let url: string;

  before(async () => {
    const dir = tempDir('berth-namespaces-');
    writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(root.user, root.password), htpasswdLine(bob.user, bob.password), ''].join('\n'));
    registry = await startAuthRegistry(CONFIG, dir);
    url = registry.url;
    for (const name of ['team/app', 'team/app-x', 'team/app/sub', 'team/db/one', 'team/db/two', 'top', 'other/x']) await pushImageAs(url, name, 'v1', root);
  });
  after(async () => {
    await registry.stop();
  });

  it('the top: namespaces and repositories, each with its usage', async () => {
    const top = await children(url, '', root);
    assert.deepEqual(names(top), ['other/', 'team/', 'top']);
    const team = top.children.find((child) => child.name === 'team');
    assert.equal(team?.usage?.scope, 'team');
    assert.equal(team?.usage?.manifests, 5, 'every repository under team/');
    assert.equal(team?.usage?.tags, 5);
    const repository = top.children.find((child) => child.name === 'top');
    assert.equal(repository?.usage?.scope, 'top');
    assert.equal(repository?.usage?.tags, 1);
    assert.ok((repository?.usage?.blobBytes ?? 0) > 0);
    assert.equal(top.next, null);
  });

  it('a prefix, paged with n and last: a repository that is also a namespace is one child, on whichever page', async () => {
    const all = await children(url, '?prefix=team', root);
    assert.deepEqual(names(all), ['app+/', 'app-x', 'db/']);
    const app = all.children[0];
    assert.equal(app?.path, 'team/app');
    assert.equal(app?.usage?.scope, 'team/app');
    assert.equal(app?.usage?.tags, 2, 'the namespace team/app: the repository and team/app/sub');
    const seen: string[] = [];
    let last: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page = await children(url, `?prefix=team&n=1${last === null ? '' : `&last=${encodeURIComponent(last)}`}`, root);
      seen.push(...names(page));
      if (page.next !== null) assert.equal(page.link, `</v2/_berth/browse/namespaces?prefix=team&n=1&last=${encodeURIComponent(page.next)}>; rel="next"`);
      last = page.next;
      if (last === null) break;
    }
    assert.deepEqual(seen, ['app+/', 'app-x', 'db/']);
    assert.deepEqual(names(await children(url, '?prefix=team/app', root)), ['sub']);
    assert.deepEqual(names(await children(url, '?prefix=nothing', root)), []);
  });

  it('a caller who may list only some repositories sees only what holds them, without namespace totals', async () => {
    const top = await children(url, '', bob);
    assert.deepEqual(names(top), ['team/']);
    assert.equal(top.children[0]?.usage, null);
    assert.deepEqual(names(await children(url, '?prefix=team', bob)), ['db/']);
    const db = await children(url, '?prefix=team/db', bob);
    assert.deepEqual(names(db), ['one', 'two']);
    assert.equal(db.children[0]?.usage?.tags, 1);
    await expectError(await call(url, 'GET', '/v2/_berth/browse/namespaces', undefined), 401, 'UNAUTHORIZED', 'anonymous');
  });

  it('a bad prefix → 400 NAME_INVALID; a last from elsewhere → 400 UNSUPPORTED', async () => {
    await expectError(await call(url, 'GET', '/v2/_berth/browse/namespaces?prefix=Team', root), 400, 'NAME_INVALID', 'prefix');
    await expectError(await call(url, 'GET', '/v2/_berth/browse/namespaces?prefix=team&last=other%2Fx', root), 400, 'UNSUPPORTED', 'last');
  });
});
