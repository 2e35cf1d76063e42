// The web UI's API on PostgreSQL metadata (database.*): the same browse endpoints, namespace tree and
// GC-run history as on SQLite, served from PostgresStore (the behaviour of each query is
// test/behaviour/browse-store.test.ts; this checks the server wires them).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry } from '../support/auth.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';

const root = { user: 'root', password: 'root-Secret-3' };

async function json(url: string, path: string): Promise<Record<string, unknown>> {
  const response = await call(url, 'GET', path, root);
  assert.equal(response.status, 200, path);
  return (await response.json()) as Record<string, unknown>;
}

describe('browse API on PostgreSQL', () => {
  let database: TestDatabase;
  let registry: AuthRegistry;
  let url: string;

  before(async () => {
    database = await createTestDatabase('browse_http');
    await (await database.open()).close();
    const pgUrl = new URL(database.url);
    const dir = tempDir('berth-browse-pg-');
    writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(root.user, root.password), ''].join('\n'));
    registry = await startAuthRegistry(
      `database:
  enabled: true
  host: ${JSON.stringify(pgUrl.hostname)}
  port: ${pgUrl.port === '' ? 5432 : Number(pgUrl.port)}
  ${pgUrl.username === '' ? '' : `user: ${JSON.stringify(decodeURIComponent(pgUrl.username))}`}
  ${pgUrl.password === '' ? '' : `password: ${JSON.stringify(decodeURIComponent(pgUrl.password))}`}
  dbname: ${JSON.stringify(pgUrl.pathname.slice(1))}
auth:
  htpasswd: { realm: "Berth test", path: \${dir}/htpasswd }
  admins: [root]
  ratelimit: { attempts: 1000, delay: 0s }
lifecycle:
  immutable:
    - { repositories: ["team/**"], tags: ["release-.*"] }
  retention:
    - { repositories: ["team/app"], keepnewest: 1 }
`,
      dir,
    );
    url = registry.url;
    await pushImageAs(url, 'team/app', 'v1', root);
    await pushImageAs(url, 'team/app', 'release-1', root);
    await pushImageAs(url, 'team/db/main', 'v1', root);
  });
  after(async () => {
    await registry?.stop();
    await database?.drop();
  });

  it('repositories, tags with retention and immutability, a manifest, the namespace tree', async () => {
    const repositories = (await json(url, '/v2/_berth/browse/repositories?q=app')).repositories as { name: string; tags: number }[];
    assert.deepEqual(repositories.map((row) => [row.name, row.tags]), [['team/app', 2]]);
    const tags = (await json(url, '/v2/_berth/browse/repositories/team/app/tags?sort=pushed')).tags as { name: string; digest: string; size: number; immutable: boolean; retention: { keptBy: string[] } }[];
    assert.deepEqual(tags.map((tag) => [tag.name, tag.immutable, tag.retention.keptBy]), [['release-1', true, ['immutable', 'keepnewest']], ['v1', false, []]]);
    assert.ok((tags[0]?.size ?? 0) > 0);
    const manifest = await json(url, `/v2/_berth/browse/repositories/team/app/manifests/${tags[1]?.digest ?? ''}`);
    assert.deepEqual(manifest.tags, ['v1']);
    const tree = (await json(url, '/v2/_berth/browse/namespaces?prefix=team')).children as { name: string; repository: boolean; namespace: boolean; usage: { tags: number } }[];
    assert.deepEqual(tree.map((child) => [child.name, child.repository, child.namespace, child.usage.tags]), [['app', true, false, 2], ['db', false, true, 1]]);
  });

  it('a collector run is recorded and listed; retention deleted what the tag page said', async () => {
    const report = await registry.app.collectGarbage({ reviewDelayMs: 0 });
    const runs = (await json(url, '/v2/_berth/browse/gc-runs')).runs as { trigger: string; policyTags: number; blobs: number }[];
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.trigger, 'server');
    assert.equal(runs[0]?.policyTags, 1);
    assert.equal(runs[0]?.blobs, report.blobs);
    const tags = (await json(url, '/v2/_berth/browse/repositories/team/app/tags')).tags as { name: string }[];
    assert.deepEqual(tags.map((tag) => tag.name), ['release-1']);
  });
});
