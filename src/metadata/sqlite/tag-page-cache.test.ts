import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TagPageCache } from './tag-page-cache.js';

const names = (count: number, prefix = 't'): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

test('tag page cache: pages per repository and page key; invalidate forgets one repository or all', () => {
  const cache = new TagPageCache(100);
  cache.set('a', '', 10, names(10));
  cache.set('a', 't9', 10, names(3, 'u'));
  cache.set('b', '', 10, names(2));
  assert.deepEqual(cache.get('a', '', 10), names(10));
  assert.deepEqual(cache.get('a', 't9', 10), names(3, 'u'));
  assert.equal(cache.get('a', '', 5), undefined, 'another page size is another page');
  cache.invalidate('a');
  assert.equal(cache.get('a', '', 10), undefined);
  assert.deepEqual(cache.get('b', '', 10), names(2));
  cache.invalidate();
  assert.equal(cache.get('b', '', 10), undefined);
});

test('tag page cache: over its budget the oldest unread repository goes; one read since is kept once more', () => {
  const cache = new TagPageCache(30);
  cache.set('old', '', 10, names(10));
  cache.set('read', '', 10, names(10));
  cache.set('new', '', 10, names(10));
  cache.get('old', '', 10); // read: gets a second chance
  cache.set('newest', '', 10, names(10)); // 40 names: one repository must go
  assert.deepEqual(cache.get('old', '', 10), names(10), 'read since it was cached: kept');
  assert.equal(cache.get('read', '', 10), undefined, 'the oldest unread one went');
  assert.deepEqual(cache.get('new', '', 10), names(10));
  assert.deepEqual(cache.get('newest', '', 10), names(10));
  // Every other one read: the pass clears the marks and then evicts in order (no endless loop); the
  // repository just added to stays.
  cache.set('more', '', 30, names(30));
  assert.deepEqual(cache.get('more', '', 30), names(30));
  for (const repository of ['old', 'new', 'newest']) assert.equal(cache.get(repository, '', 10), undefined, repository);
  // One repository's pages over the budget together: it goes as well.
  cache.set('more', 't29', 30, names(1, 'x'));
  assert.equal(cache.get('more', '', 30), undefined);
  assert.equal(cache.get('more', 't29', 30), undefined);
});

test('tag page cache: a page larger than the whole budget is not cached, and replacing a page keeps the count right', () => {
  const cache = new TagPageCache(20);
  cache.set('huge', '', 50, names(50));
  assert.equal(cache.get('huge', '', 50), undefined);
  cache.set('a', '', 10, names(10));
  cache.set('a', '', 10, names(5)); // replaced: 5 names held, not 15
  cache.set('b', '', 15, names(15));
  assert.deepEqual(cache.get('a', '', 10), names(5), 'both fit in 20');
  assert.deepEqual(cache.get('b', '', 15), names(15));
});
