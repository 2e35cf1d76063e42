import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAnonymous, parseBasic, parseBearer } from './credentials.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

test('credentials: Basic with a colon in the password; malformed headers are not credentials; empty Basic is anonymous', () => {
  assert.deepEqual(parseBasic(`Basic ${b64('alice:pa:ss')}`), { user: 'alice', password: 'pa:ss' });
  assert.deepEqual(parseBasic(`basic ${b64('alice:')}`), { user: 'alice', password: '' });
  assert.equal(parseBasic(`Basic ${b64(':nouser')}`), undefined);
  assert.equal(parseBasic('Basic'), undefined);
  assert.equal(parseBasic('Bearer x'), undefined);
  assert.equal(parseBearer('Bearer a.b.c'), 'a.b.c');
  assert.equal(parseBearer('Bearer a b'), undefined);
  assert.ok(isAnonymous(undefined) && isAnonymous('') && isAnonymous(`Basic ${b64(':')}`));
  assert.ok(!isAnonymous(`Basic ${b64('a:')}`) && !isAnonymous('Bearer x'));
});
