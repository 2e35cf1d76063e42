// The auth.* configuration: what starts access control, and what stops start-up naming the key.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { tempDir } from '../support/auth.js';

function load(yaml: string, env: Record<string, string> = {}): ReturnType<typeof loadConfig> {
  const dir = tempDir('berth-auth-config-');
  const file = join(dir, 'config.yml');
  writeFileSync(file, `version: 0.1\nstorage: { inmemory: {} }\n${yaml}\n`);
  try {
    return loadConfig(file, env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function failsOn(yaml: string, key: string, env: Record<string, string> = {}): void {
  assert.throws(() => load(yaml, env), (error: unknown) => error instanceof ConfigError && error.key === key, `expected a ConfigError on ${key}`);
}

describe('auth configuration', () => {
  it('no auth keys → no access control', () => {
    assert.equal(load('').auth, undefined);
  });

  it('htpasswd → basic mode with the default policy; the token service → token mode with defaults', () => {
    const basic = load('auth: { htpasswd: { path: /etc/berth/htpasswd } }').auth;
    assert.equal(basic?.mode, 'basic');
    assert.equal(basic?.htpasswd?.realm, 'berth');
    assert.equal(basic?.policies, undefined);
    const token = load('auth: { htpasswd: { path: /x }, tokenservice: { enabled: true } }').auth;
    assert.equal(token?.mode, 'token');
    assert.equal(token?.token?.service, 'berth');
    assert.equal(token?.token?.issuer, 'berth');
    assert.equal(token?.tokenService?.keyFile, undefined, 'in memory with storage.inmemory');
  });

  it('policies from the environment (REGISTRY_AUTH_POLICIES as YAML)', () => {
    const auth = load('auth: { htpasswd: { path: /x } }', { REGISTRY_AUTH_POLICIES: '[{repositories: ["**"], anonymous: true, actions: [pull]}]' }).auth;
    assert.deepEqual(auth?.policies, [{ repositories: ['**'], users: [], groups: [], anonymous: true, actions: ['pull'] }]);
  });

  it('mistakes stop start-up naming the key', () => {
    failsOn('auth: { tokenservice: { enabled: true } }', 'auth.tokenservice.enabled');
    failsOn('auth: { token: { realm: https://a/token, service: s, issuer: i } }', 'auth.token.realm');
    failsOn('auth: { token: { realm: /token, service: s, issuer: i, jwks: /j } }', 'auth.token.realm');
    failsOn('auth: { token: { realm: https://a/token, issuer: i, jwks: /j } }', 'auth.token.service');
    failsOn('auth: { htpasswd: { path: /x }, tokenservice: { enabled: true }, token: { signingalgorithms: [HS256] } }', 'auth.token.signingalgorithms');
    failsOn('auth: { htpasswd: { path: /x }, token: { signingalgorithms: [none] }, tokenservice: { enabled: true } }', 'auth.token.signingalgorithms');
    failsOn('auth: { policies: [] }', 'auth.policies');
    failsOn('auth: { htpasswd: { path: /x }, policies: {} }', 'auth.policies');
    failsOn('auth: { htpasswd: { path: /x }, policies: [{ repositories: ["a"], actions: [write] }] }', 'auth.policies[0]');
    failsOn('auth: { htpasswd: { path: /x }, policies: [{ repositories: [], actions: [pull] }] }', 'auth.policies[0]');
    failsOn('auth: { htpasswd: { path: /x }, policies: [{ repositories: ["A/(x)"], actions: [pull] }] }', 'auth.policies[0]');
    failsOn('auth: { htpasswd: { path: /x }, policies: [{ repositories: ["a"], groups: [nobody], actions: [pull] }] }', 'auth.policies[0]');
    failsOn('auth: { htpasswd: { path: /x }, policies: [{ repositories: ["a"], user: [x], actions: [pull] }] }', 'auth.policies[0]');
    failsOn('auth: { htpasswd: { path: /x }, groups: { devs: alice } }', 'auth.groups');
    failsOn('auth: { silly: { realm: x } }', 'auth.silly');
  });

  it('a file that cannot be read stops start-up naming its key', () => {
    const silent = pino({ level: 'silent' });
    for (const [yaml, key] of [
      ['auth: { htpasswd: { path: /nonexistent/htpasswd } }', 'auth.htpasswd.path'],
      ['auth: { token: { realm: https://a/token, service: s, issuer: i, jwks: /nonexistent/jwks.json } }', 'auth.token.jwks'],
      ['auth: { token: { realm: https://a/token, service: s, issuer: i, rootcertbundle: /nonexistent/bundle.pem } }', 'auth.token.rootcertbundle'],
    ] as const) {
      assert.throws(() => createApp(load(yaml), silent), (error: unknown) => error instanceof ConfigError && error.key === key, key);
    }
  });
});
