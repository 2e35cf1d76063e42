// The `database.*` configuration as pg's connection and pool settings (GitLab registry's keys).
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { DatabaseConfig } from '../../config/config.js';
import type { PostgresOptions } from './postgres-store.js';

function tls(config: DatabaseConfig): false | ConnectionOptions {
  if (config.sslmode === 'disable') return false;
  const files: ConnectionOptions = {
    ...(config.sslcert === undefined ? {} : { cert: readFileSync(config.sslcert) }),
    ...(config.sslkey === undefined ? {} : { key: readFileSync(config.sslkey) }),
    ...(config.sslrootcert === undefined ? {} : { ca: readFileSync(config.sslrootcert) }),
  };
  if (config.sslmode === 'require') return { ...files, rejectUnauthorized: false };
  if (config.sslmode === 'verify-ca') return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...files, rejectUnauthorized: true };
}

export function postgresOptions(config: DatabaseConfig, migrate = false): PostgresOptions {
  return {
    connection: {
      host: config.host,
      port: config.port,
      database: config.dbname,
      ...(config.user === undefined ? {} : { user: config.user }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ssl: tls(config),
      ...(config.connectTimeoutMs > 0 ? { connectionTimeoutMillis: config.connectTimeoutMs } : {}),
    },
    pool: { max: config.pool.maxOpen, maxIdle: config.pool.maxIdle, maxLifetimeMs: config.pool.maxLifetimeMs },
    migrate,
  };
}
