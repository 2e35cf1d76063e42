// A fresh PostgreSQL database per test file on the harness's server (test/support/services.ts), and
// PostgresStore instances on it (several instances share one database, as in a scale-out).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/metadata/postgres/postgres-store.js';
import { postgresService } from './services.js';

export interface TestDatabase {
  /** The database's URL. */
  readonly url: string;
  /** A store on it, migrated up unless told otherwise. */
  open(options?: { readonly migrate?: boolean }): Promise<PostgresStore>;
  /** Drops the database (every store on it must be closed). */
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresService() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `berth_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(postgresService());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    open: (options) => PostgresStore.open({ connection: url.toString(), migrate: options?.migrate ?? true }),
    drop: async () => {
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
