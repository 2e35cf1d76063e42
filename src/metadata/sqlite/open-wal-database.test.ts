// Two processes opening one new SQLite file at the same instant (http.workers on a fresh install):
// without the retry, about four rounds in ten failed with "database is locked" on the WAL switch.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './schema.js';
import { SqliteStore } from './sqlite-store.js';

const CHILD_ENV = 'BERTH_TEST_OPEN_AT';

if (process.env[CHILD_ENV] !== undefined) {
  // A child: wait for the agreed instant, then open (WAL switch and migrations) and close.
  const [at, path] = process.env[CHILD_ENV].split(' ', 2) as [string, string];
  while (Date.now() < Number(at)) {
    // spin: both children open within microseconds of each other
  }
  const store = new SqliteStore({ path });
  await store.close();
} else {
  test('two processes open a new file at the same instant: both open it, migrated once, in WAL mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-open-'));
    try {
      for (let round = 0; round < 10; round++) {
        const path = join(dir, `${round}.sqlite`);
        const at = Date.now() + 500;
        const codes = await Promise.all(
          [0, 1].map(
            () =>
              new Promise<number | null>((resolve) => {
                fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [CHILD_ENV]: `${at} ${path}` }, stdio: 'inherit' }).once('exit', resolve);
              }),
          ),
        );
        assert.deepEqual(codes, [0, 0], `round ${round}: both processes opened the file`);
        const db = new Database(path, { readonly: true });
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length, 'every migration applied');
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a file whose directory does not exist yet (S3 storage, SQLite metadata at its default place): the directory is made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-open-'));
    try {
      const store = new SqliteStore({ path: join(dir, 'var', 'lib', 'registry', 'metadata.sqlite') });
      await store.close();
      const db = new Database(join(dir, 'var', 'lib', 'registry', 'metadata.sqlite'), { readonly: true });
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
