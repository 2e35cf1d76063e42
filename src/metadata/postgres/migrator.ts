// Applies and reverts the PostgreSQL migrations (schema.ts) for `berth database migrate`, and reads
// which are applied so that a server refuses a schema it does not know. Concurrent migrators (two
// instances started at once) serialise on an advisory lock.
import type pg from 'pg';
import { MIGRATIONS, MIGRATIONS_TABLE } from './schema.js';

/** An arbitrary constant: the advisory lock key migrations run under. */
const MIGRATION_LOCK = 0x62657274_0001n;

export interface MigrationStatus {
  readonly applied: number;
  readonly expected: number;
}

/** The database's schema is not the one this code knows; the message names the command to run. */
export class SchemaMismatchError extends Error {
  readonly status: MigrationStatus;
  constructor(status: MigrationStatus) {
    super(
      status.applied > status.expected
        ? `database: the schema is at version ${status.applied}, newer than this berth knows (${status.expected}); run a newer berth, or \`berth database migrate down\` with the berth that migrated it`
        : `database: the schema is at version ${status.applied} of ${status.expected}; run \`berth database migrate up\``,
    );
    this.name = 'SchemaMismatchError';
    this.status = status;
  }
}

type Queryable = Pick<pg.ClientBase, 'query'>;

export async function migrationStatus(db: Queryable): Promise<MigrationStatus> {
  const exists = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [MIGRATIONS_TABLE]);
  if (exists.rows[0]?.present !== true) return { applied: 0, expected: MIGRATIONS.length };
  const row = await db.query<{ applied: number }>(`SELECT coalesce(max(version), 0)::int AS applied FROM ${MIGRATIONS_TABLE}`);
  return { applied: row.rows[0]?.applied ?? 0, expected: MIGRATIONS.length };
}

async function locked<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    try {
      return await work(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]);
    }
  } finally {
    client.release();
  }
}

/** Applies every migration not applied yet (or up to `limit` of them); returns the versions applied. */
export function migrateUp(pool: pg.Pool, limit = Infinity): Promise<number[]> {
  return locked(pool, async (client) => {
    await client.query(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version integer PRIMARY KEY, applied_at bigint NOT NULL)`);
    const { applied } = await migrationStatus(client);
    if (applied > MIGRATIONS.length) throw new SchemaMismatchError({ applied, expected: MIGRATIONS.length });
    const done: number[] = [];
    for (let version = applied + 1; version <= MIGRATIONS.length && done.length < limit; version++) {
      await inTransaction(client, async () => {
        await client.query(MIGRATIONS[version - 1]?.up ?? '');
        await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, applied_at) VALUES ($1, $2)`, [version, Date.now()]);
      });
      done.push(version);
    }
    return done;
  });
}

/** Reverts the newest `count` applied migrations (one by default); returns the versions reverted. */
export function migrateDown(pool: pg.Pool, count = 1): Promise<number[]> {
  return locked(pool, async (client) => {
    const { applied } = await migrationStatus(client);
    if (applied > MIGRATIONS.length) throw new SchemaMismatchError({ applied, expected: MIGRATIONS.length });
    const done: number[] = [];
    for (let version = applied; version >= 1 && done.length < count; version--) {
      await inTransaction(client, async () => {
        await client.query(MIGRATIONS[version - 1]?.down ?? '');
        await client.query(`DELETE FROM ${MIGRATIONS_TABLE} WHERE version = $1`, [version]);
      });
      done.push(version);
    }
    return done;
  });
}

/** One migration step on the locked connection: its statements and its bookkeeping row commit together. */
async function inTransaction(client: pg.PoolClient, work: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await work();
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}
