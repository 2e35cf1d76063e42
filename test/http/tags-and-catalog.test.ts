// end-8a/8b (tags list) and the catalog: lexical order, n/last paging, RFC 5988 Link headers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freshRepository } from '../support/content.js';
import { assertError } from '../support/error-envelope.js';
import { pushImage, pushManifest } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const NEXT_LINK = /^<([^>]+)>; rel="next"$/;

interface TagList {
  name: string;
  tags: string[];
}

describe('tags list and catalog', () => {
  let registry: TestRegistry;
  let repository: string;
  const tags = ['v1', 'V2', '10', '9', 'latest', 'a_b', 'a-b', 'a.b'];
  const sorted = [...tags].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1));

  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_CATALOG_MAXENTRIES: '3' } });
    repository = freshRepository('tags');
    const image = await pushImage(registry.url, repository);
    for (const tag of tags) await pushManifest(registry.url, repository, tag, image.manifest);
  });
  after(async () => {
    await registry.stop();
  });

  async function followPages(first: string): Promise<{ pages: string[][]; links: string[] }> {
    const pages: string[][] = [];
    const links: string[] = [];
    let next: string | undefined = first;
    while (next !== undefined) {
      const response: Response = await fetch(new URL(next, registry.url));
      assert.equal(response.status, 200);
      const body = (await response.json()) as { tags?: string[]; repositories?: string[] };
      pages.push(body.tags ?? body.repositories ?? []);
      const link = response.headers.get('link');
      if (link === null) {
        next = undefined;
      } else {
        links.push(link);
        const match = NEXT_LINK.exec(link);
        assert.ok(match !== null, `Link header ${link} is <url>; rel="next"`);
        next = match[1];
      }
      assert.ok(pages.length < 50, 'paging terminates');
    }
    return { pages, links };
  }

  it('GET tags/list → 200 {name, tags} in lexical (byte) order, no Link when complete', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/tags/list`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(response.headers.get('link'), null);
    const body = (await response.json()) as TagList;
    assert.equal(body.name, repository);
    assert.deepEqual(body.tags, sorted);
  });

  it('GET tags/list?n=3 → 3 tags and Link: <…?n=3&last=<third>>; rel="next"', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/tags/list?n=3`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as TagList;
    assert.deepEqual(body.tags, sorted.slice(0, 3));
    const link = response.headers.get('link') ?? '';
    const match = NEXT_LINK.exec(link);
    assert.ok(match !== null, `Link ${link}`);
    const next = new URL(match[1] ?? '', registry.url);
    assert.equal(next.pathname, `/v2/${repository}/tags/list`);
    assert.equal(next.searchParams.get('n'), '3');
    assert.equal(next.searchParams.get('last'), sorted[2]);
  });

  it('following Link headers pages through every tag exactly once, in order', async () => {
    const { pages } = await followPages(`/v2/${repository}/tags/list?n=3`);
    assert.deepEqual(pages.flat(), sorted);
    assert.deepEqual(pages.map((page) => page.length), [3, 3, 2]);
  });

  it('GET tags/list?last=<tag> → the tags after it', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/tags/list?last=${sorted[4]}`);
    assert.deepEqual(((await response.json()) as TagList).tags, sorted.slice(5));
  });

  it('GET tags/list?n=2&last=<tag> → the 2 tags after it', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/tags/list?n=2&last=${sorted[1]}`);
    assert.deepEqual(((await response.json()) as TagList).tags, sorted.slice(2, 4));
  });

  it('GET tags/list?last=<the last tag> → 200 with an empty list and no Link', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/tags/list?last=${sorted[sorted.length - 1]}`);
    assert.equal(response.headers.get('link'), null);
    assert.deepEqual(((await response.json()) as TagList).tags, []);
  });

  it('GET tags/list?n=<exactly the count> → every tag and no Link', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/tags/list?n=${tags.length}`);
    assert.equal(response.headers.get('link'), null);
    assert.deepEqual(((await response.json()) as TagList).tags, sorted);
  });

  it('GET tags/list?n=0 → 200 with an empty list', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/tags/list?n=0`);
    assert.equal(response.status, 200);
    assert.deepEqual(((await response.json()) as TagList).tags, []);
  });

  for (const n of ['-1', 'abc', '1.5', '']) {
    it(`GET tags/list?n=${n} → 400`, async () => {
      const response = await fetch(`${registry.url}/v2/${repository}/tags/list?n=${n}`);
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.ok(Array.isArray((JSON.parse(text) as { errors: unknown[] }).errors));
    });
  }

  it('GET tags/list of an unknown repository → 404 NAME_UNKNOWN', async () => {
    await assertError(await fetch(`${registry.url}/v2/no/such-repository/tags/list`), 404, 'NAME_UNKNOWN');
  });

  it('GET tags/list of a repository with manifests but no tags → 200 with an empty list', async () => {
    const untagged = freshRepository('untagged');
    await pushImage(registry.url, untagged);
    const response = await fetch(`${registry.url}/v2/${untagged}/tags/list`);
    assert.equal(response.status, 200);
    assert.deepEqual(((await response.json()) as TagList).tags, []);
  });

  describe('GET /v2/_catalog', () => {
    const names = ['zeta/app', 'alpha/app', 'alpha/app-tools', 'mid', 'alpha/app/nested', 'beta'];
    before(async () => {
      for (const name of names) await pushImage(registry.url, name, 'latest');
    });

    it('lists repositories in lexical order, paged by catalog.maxentries without n', async () => {
      const { pages } = await followPages('/v2/_catalog');
      const all = pages.flat();
      const expected = [...names, repository, ...all.filter((name) => name.includes('untagged'))].sort();
      assert.deepEqual(all, expected);
      assert.ok(pages.every((page) => page.length <= 3), 'default page size is catalog.maxentries');
    });

    it('GET _catalog?n=2 → 2 names and a Link to the next page; following it covers all', async () => {
      const response = await fetch(`${registry.url}/v2/_catalog?n=2`);
      const body = (await response.json()) as { repositories: string[] };
      assert.equal(body.repositories.length, 2);
      const link = response.headers.get('link') ?? '';
      const match = NEXT_LINK.exec(link);
      assert.ok(match !== null, `Link ${link}`);
      const next = new URL(match[1] ?? '', registry.url);
      assert.equal(next.pathname, '/v2/_catalog');
      assert.equal(next.searchParams.get('n'), '2');
      assert.equal(next.searchParams.get('last'), body.repositories[1]);
      const { pages } = await followPages('/v2/_catalog?n=2');
      const all = pages.flat();
      assert.deepEqual(all, [...all].sort());
      assert.equal(new Set(all).size, all.length);
      for (const name of names) assert.ok(all.includes(name), name);
    });

    it('GET _catalog?n=2&last=alpha/app → the 2 names after it', async () => {
      const response = await fetch(`${registry.url}/v2/_catalog?n=2&last=alpha/app`);
      assert.deepEqual(((await response.json()) as { repositories: string[] }).repositories, ['alpha/app-tools', 'alpha/app/nested']);
    });

    it('GET _catalog?n=0 → 200 with an empty list', async () => {
      const response = await fetch(`${registry.url}/v2/_catalog?n=0`);
      assert.equal(response.status, 200);
      assert.deepEqual(((await response.json()) as { repositories: string[] }).repositories, []);
    });

    it('GET _catalog?n=x → 400', async () => {
      const response = await fetch(`${registry.url}/v2/_catalog?n=x`);
      await response.arrayBuffer();
      assert.equal(response.status, 400);
    });
  });
});
