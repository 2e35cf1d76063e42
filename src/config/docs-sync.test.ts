// The configuration-key table and the error-code table in docs/ must say what the code does.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { envName, KEYS } from './keys.js';

const root = new URL('../../../', import.meta.url);

test('docs/configuration.md has one row per configuration key, with its environment variable', () => {
  const text = readFileSync(new URL('docs/configuration.md', root), 'utf8');
  const rows = text.split('\n').filter((line) => line.startsWith('| `'));
  assert.equal(rows.length, KEYS.length);
  for (const key of KEYS) {
    assert.ok(
      rows.some((row) => row.startsWith(`| \`${key.path}\` | \`${envName(key.path)}\` |`)),
      `docs/configuration.md lacks ${key.path}`,
    );
  }
});

test('docs/errors.md lists every error code the registry sends', () => {
  const text = readFileSync(new URL('docs/errors.md', root), 'utf8');
  const source = readFileSync(new URL('src/registry/errors.ts', root), 'utf8');
  const codes = [...(/export type ErrorCode =([^;]+);/.exec(source)?.[1] ?? '').matchAll(/'([A-Z_]+)'/g)].map((m) => m[1] ?? '');
  assert.equal(codes.length, 14);
  for (const code of codes) assert.match(text, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `docs/errors.md lacks ${code}`);
});
