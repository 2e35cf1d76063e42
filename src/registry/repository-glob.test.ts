import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRepositoryGlob } from './repository-glob.js';

test('glob: * stays within a component, ** crosses components, the rest is literal', () => {
  const one = compileRepositoryGlob('team/*');
  assert.ok(one.test('team/app'));
  assert.ok(!one.test('team/app/sub'));
  assert.ok(!one.test('team-evil/app'));
  assert.ok(!one.test('teamx/app'));
  const deep = compileRepositoryGlob('team/**');
  assert.ok(deep.test('team/app/sub'));
  assert.ok(!deep.test('teamx/app'));
  const any = compileRepositoryGlob('**');
  assert.ok(any.test('a') && any.test('a/b/c'));
  const dot = compileRepositoryGlob('a.b');
  assert.ok(dot.test('a.b') && !dot.test('axb'));
  const mid = compileRepositoryGlob('**/cache');
  assert.ok(mid.test('cache') && mid.test('x/y/cache') && !mid.test('xcache'));
});
