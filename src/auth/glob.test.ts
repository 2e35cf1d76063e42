import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileGlob } from './glob.js';

test('glob: * stays within a component, ** crosses components, the rest is literal', () => {
  const one = compileGlob('team/*');
  assert.ok(one.test('team/app'));
  assert.ok(!one.test('team/app/sub'));
  assert.ok(!one.test('team-evil/app'));
  assert.ok(!one.test('teamx/app'));
  const deep = compileGlob('team/**');
  assert.ok(deep.test('team/app/sub'));
  assert.ok(!deep.test('teamx/app'));
  const any = compileGlob('**');
  assert.ok(any.test('a') && any.test('a/b/c'));
  const dot = compileGlob('a.b');
  assert.ok(dot.test('a.b') && !dot.test('axb'));
  const mid = compileGlob('**/cache');
  assert.ok(mid.test('cache') && mid.test('x/y/cache') && !mid.test('xcache'));
});
