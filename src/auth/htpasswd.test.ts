import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { HtpasswdFile } from './htpasswd.js';

const line = (user: string, password: string, cost = 5): string => execFileSync('htpasswd', ['-Bbn', '-C', String(cost), user, password], { encoding: 'utf8' }).trim();

test('htpasswd: bcrypt entries verify; other hashes are ignored; a repeated success is served from the cache; a changed file is re-read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-htpasswd-'));
  try {
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `# users\n${line('alice', 'one', 10)}\nplain:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n\n`);
    const users = new HtpasswdFile(file, pino({ level: 'silent' }));
    assert.equal(await users.verify('alice', 'one'), true);
    assert.equal(await users.verify('alice', 'two'), false);
    assert.equal(await users.verify('plain', 'password'), false);
    assert.equal(await users.verify('nobody', 'one'), false);
    const started = performance.now();
    assert.equal(await users.verify('alice', 'one'), true);
    assert.ok(performance.now() - started < 10, 'cached');
    writeFileSync(file, `${line('bob', 'three')}\n`);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(await users.verify('bob', 'three'), true);
    assert.equal(await users.verify('alice', 'one'), false, 'removed users are gone, cache included');
    assert.equal(await users.has('bob'), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
