// `berth database migrate up|down|status` on a real PostgreSQL, and `berth serve` refusing a schema
// it does not know, naming the command to run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS } from '../../src/metadata/postgres/schema.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'berth-migrate-'));

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs berth with the database of `url` configured through REGISTRY_DATABASE_* variables. */
function berth(url: string, args: readonly string[], untilListening = false): Promise<Outcome> {
  const target = new URL(url);
  const env = {
    ...process.env,
    REGISTRY_HTTP_ADDR: '127.0.0.1:0',
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root,
    REGISTRY_DATABASE_ENABLED: 'true',
    REGISTRY_DATABASE_HOST: target.hostname,
    REGISTRY_DATABASE_PORT: target.port,
    REGISTRY_DATABASE_USER: decodeURIComponent(target.username),
    REGISTRY_DATABASE_DBNAME: target.pathname.slice(1),
    REGISTRY_DATABASE_SSLMODE: 'disable',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (untilListening && stdout.includes('berth listening')) child.kill('SIGINT');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('berth database migrate', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase('migrate');
  });
  after(async () => {
    await database.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a server on a database never migrated refuses to start and names `berth database migrate up`', async () => {
    const status = await berth(database.url, ['database', 'migrate', 'status']);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /applied 0/);
    const serve = await berth(database.url, ['serve']);
    assert.equal(serve.code, 2);
    assert.match(serve.stderr, /berth database migrate up/);
  });

  it('migrate up applies every migration, status then agrees, and the server starts', async () => {
    const up = await berth(database.url, ['database', 'migrate', 'up']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`^applied ${MIGRATIONS.map((_, i) => i + 1).join(', ')}$`, 'm'));
    assert.match((await berth(database.url, ['database', 'migrate', 'up'])).stdout, /nothing to do/);
    const status = await berth(database.url, ['database', 'migrate', 'status']);
    assert.equal(status.code, 0);
    const serve = await berth(database.url, ['serve'], true);
    assert.match(serve.stdout, /berth listening/);
  });

  it('a schema newer than this berth knows is refused', async () => {
    const store = await database.open();
    await store.close();
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('INSERT INTO berth_schema_migrations (version, applied_at) VALUES (1000, 0)');
    await client.end();
    const serve = await berth(database.url, ['serve']);
    assert.equal(serve.code, 2);
    assert.match(serve.stderr, /newer than this berth/);
    const client2 = new pg.Client({ connectionString: database.url });
    await client2.connect();
    await client2.query('DELETE FROM berth_schema_migrations WHERE version = 1000');
    await client2.end();
  });

  it('migrate down reverts the newest migration, after which the server refuses again', async () => {
    const down = await berth(database.url, ['database', 'migrate', 'down']);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout.trim(), `reverted ${MIGRATIONS.length}`);
    const serve = await berth(database.url, ['serve']);
    assert.equal(serve.code, 2);
    assert.match(serve.stderr, /migrate up/);
  });
});
