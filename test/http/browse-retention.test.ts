// The tag page of the web UI's API says what lifecycle.retention will do to each tag (docs/api.md):
// the applying rule, what keeps the tag (immutable, keeptags, keepnewest, keepyoungerthan) and when
// nothing keeps it any more and the collector will have deleted it; and the collector then deletes
// exactly the tags it said nothing keeps.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, htpasswdLine, pushImageAs, startAuthRegistry, tempDir, type AuthRegistry } from '../support/auth.js';

const root = { user: 'root', password: 'root-Secret-3' };
const HOUR = 3600_000;

const CONFIG = `
auth:
  htpasswd: { realm: "Berth test", path: \${dir}/htpasswd }
  admins: [root]
  ratelimit: { attempts: 1000, delay: 0s }
lifecycle:
  immutable:
    - { repositories: ["team/**"], tags: ["release-.*"] }
  retention:
    - { repositories: ["team/keep"], keeptags: ["stable"], keepnewest: 1 }
    - { repositories: ["team/young", "team/keep"], keepyoungerthan: 720h }
`;

interface RetentionView {
  rule: number;
  keptBy: string[];
  deletableAt: number | null;
  deleteBy: number | null;
}
interface TagJson {
  name: string;
  pushedAt: number;
  immutable: boolean;
  retention: RetentionView | null;
}

async function tagsOf(url: string, repository: string, query = ''): Promise<{ tags: TagJson[]; gc: { enabled: boolean; intervalMs: number } }> {
  const response = await call(url, 'GET', `/v2/_berth/browse/repositories/${repository}/tags${query}`, root);
  assert.equal(response.status, 200);
  return (await response.json()) as { tags: TagJson[]; gc: { enabled: boolean; intervalMs: number } };
}

/** Waits until the clock has moved past `time`, so that consecutive pushes have distinct push times. */
async function tick(time: number): Promise<void> {
  while (Date.now() <= time) await new Promise((resolve) => setImmediate(resolve));
}

describe('browse API: retention status and immutability per tag', () => {
  let registry: AuthRegistry;
  let url: string;

  before(async () => {
    const dir = tempDir('berth-retention-');
    writeFileSync(join(dir, 'htpasswd'), [htpasswdLine(root.user, root.password), ''].join('\n'));
    registry = await startAuthRegistry(CONFIG, dir);
    url = registry.url;
    // Oldest first: `old` is kept by nothing, `stable` by keeptags, `release-2` by immutability, `new` by keepnewest.
    for (const tag of ['old', 'stable', 'release-2', 'new']) {
      await pushImageAs(url, 'team/keep', tag, root);
      await tick(Date.now());
    }
    await pushImageAs(url, 'team/young', 'v1', root);
    await pushImageAs(url, 'team/none', 'v1', root);
  });
  after(async () => {
    await registry.stop();
  });

  it('each tag says what keeps it, or that the next collector run deletes it, and by when', async () => {
    const before = Date.now();
    const { tags, gc } = await tagsOf(url, 'team/keep');
    assert.deepEqual(gc, { enabled: true, reviewDelayMs: 24 * HOUR, intervalMs: HOUR });
    const byName = new Map(tags.map((tag) => [tag.name, tag]));
    assert.deepEqual(byName.get('new')?.retention, { rule: 0, keptBy: ['keepnewest'], deletableAt: null, deleteBy: null });
    assert.deepEqual(byName.get('stable')?.retention, { rule: 0, keptBy: ['keeptags'], deletableAt: null, deleteBy: null });
    assert.deepEqual(byName.get('release-2')?.retention, { rule: 0, keptBy: ['immutable'], deletableAt: null, deleteBy: null });
    assert.equal(byName.get('release-2')?.immutable, true);
    assert.equal(byName.get('old')?.immutable, false);
    const old = byName.get('old')?.retention;
    assert.deepEqual(old?.keptBy, [], 'nothing keeps old: the first rule applies, not the second');
    assert.ok((old?.deletableAt ?? 0) <= Date.now() && (old?.deletableAt ?? 0) >= before - 1000, 'deletable now');
    assert.equal(old?.deleteBy, (old?.deletableAt ?? 0) + HOUR, 'within one gc.interval');
  });

  it('keepnewest ranks every tag of the repository, whatever the page and its sort', async () => {
    const page = await tagsOf(url, 'team/keep', '?sort=name&n=1&last=old');
    assert.deepEqual(page.tags.map((tag) => [tag.name, tag.retention?.keptBy]), [['release-2', ['immutable']]]);
    const newest = await tagsOf(url, 'team/keep', '?sort=name&n=1');
    assert.deepEqual(newest.tags.map((tag) => [tag.name, tag.retention?.keptBy]), [['new', ['keepnewest']]]);
  });

  it('keepyoungerthan: kept until its push time plus the duration; no rule: null', async () => {
    const [young] = (await tagsOf(url, 'team/young')).tags;
    assert.deepEqual(young?.retention, { rule: 1, keptBy: ['keepyoungerthan'], deletableAt: (young?.pushedAt ?? 0) + 720 * HOUR, deleteBy: (young?.pushedAt ?? 0) + 721 * HOUR });
    const [none] = (await tagsOf(url, 'team/none')).tags;
    assert.equal(none?.retention, null);
  });

  it('the collector deletes exactly the tags the page said nothing keeps', async () => {
    const said = (await tagsOf(url, 'team/keep')).tags.filter((tag) => tag.retention?.keptBy.length === 0).map((tag) => tag.name);
    assert.deepEqual(said, ['old']);
    await registry.app.collectGarbage({ reviewDelayMs: 0 });
    assert.deepEqual((await tagsOf(url, 'team/keep')).tags.map((tag) => tag.name), ['new', 'release-2', 'stable']);
    assert.deepEqual((await tagsOf(url, 'team/young')).tags.map((tag) => tag.name), ['v1']);
  });
});
