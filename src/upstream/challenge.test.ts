import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChallenges } from './challenge.js';

test('a Bearer challenge with quoted parameters, as Docker Hub sends it', () => {
  const [c] = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"');
  assert.equal(c?.scheme, 'bearer');
  assert.deepEqual(c?.params, { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' });
});

test('a Basic challenge, and two challenges in one header', () => {
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  const both = parseChallenges('Basic realm="a", Bearer realm="https://t/x",service=s');
  assert.deepEqual(both.map((c) => c.scheme), ['basic', 'bearer']);
  assert.deepEqual(both[1]?.params, { realm: 'https://t/x', service: 's' });
});

test('no header, no challenges', () => {
  assert.deepEqual(parseChallenges(null), []);
});
