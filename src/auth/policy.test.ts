import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANONYMOUS, Policy } from './policy.js';

test('policy: rules by user, group, * and anonymous add up; admins get everything; the default lets users do everything', () => {
  const policy = new Policy({
    admins: ['root'],
    groups: { devs: ['alice'] },
    policies: [
      { repositories: ['public/**'], users: [], groups: [], anonymous: true, actions: ['pull'] },
      { repositories: ['team/*'], users: [], groups: ['devs'], anonymous: false, actions: ['pull', 'push'] },
      { repositories: ['**'], users: ['*'], groups: [], anonymous: false, actions: [] },
      { repositories: ['shared/**'], users: ['*'], groups: [], anonymous: false, actions: ['pull'] },
    ],
  });
  assert.deepEqual([...policy.actions(ANONYMOUS, 'public/x')], ['pull']);
  assert.deepEqual([...policy.actions(ANONYMOUS, 'team/x')], []);
  assert.deepEqual([...policy.actions({ user: 'alice' }, 'team/x')].sort(), ['pull', 'push']);
  assert.deepEqual([...policy.actions({ user: 'alice' }, 'public/x')], ['pull']);
  assert.deepEqual([...policy.actions({ user: 'bob' }, 'team/x')], []);
  assert.deepEqual([...policy.actions({ user: 'bob' }, 'shared/a/b')], ['pull']);
  assert.deepEqual([...policy.actions({ user: 'root' }, 'anything')].sort(), ['delete', 'pull', 'push']);
  assert.ok(policy.mayListCatalog(ANONYMOUS));
  assert.deepEqual(policy.intersect({ user: 'alice' }, { type: 'repository', name: 'team/x', actions: ['pull', 'push', 'delete'] })?.actions, ['pull', 'push']);
  assert.equal(policy.intersect({ user: 'bob' }, { type: 'repository', name: 'team/x', actions: ['pull'] }), undefined);

  const defaults = new Policy({ admins: [], groups: {}, policies: undefined });
  assert.deepEqual([...defaults.actions({ user: 'anyone' }, 'a/b')].sort(), ['delete', 'pull', 'push']);
  assert.deepEqual([...defaults.actions(ANONYMOUS, 'a/b')], []);
  assert.ok(!defaults.mayListCatalog(ANONYMOUS));
});
