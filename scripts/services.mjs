#!/usr/bin/env node
// The services the tests need, started once per test run (scripts/test.mjs) or by hand:
//   node scripts/services.mjs up [--dir D] [--only postgres,s3]   starts them on free loopback ports,
//        writes D/env (KEY=VALUE lines) and prints `export KEY=VALUE` lines for a shell to eval
//   node scripts/services.mjs down [--dir D]                       stops what `up` started in D
// postgres: PostgreSQL 15 (BERTH_TEST_POSTGRES_URL, a superuser URL; tests create their own databases).
// s3: Ceph radosgw on a one-node memstore cluster (BERTH_TEST_S3_*; tests create their own buckets).
// Everything runs as root (PostgreSQL itself as user postgres) and is stopped by its pid files.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const scripts = join(root, 'scripts', 'services');

export const SERVICES = ['postgres', 's3'];

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function script(name, args, env = {}) {
  const started = Date.now();
  const result = spawnSync('bash', [join(scripts, name), ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`services: ${name} ${args.join(' ')} failed (${result.status ?? result.signal})`);
  return Date.now() - started;
}

const up = {
  async postgres(dir) {
    const port = await freePort();
    const ms = script('postgres-up.sh', [join(dir, 'postgres'), String(port)]);
    const url = readFileSync(join(dir, 'postgres', 'url'), 'utf8').trim();
    process.stderr.write(`services: PostgreSQL at 127.0.0.1:${port} in ${ms} ms\n`);
    return { BERTH_TEST_POSTGRES_URL: url };
  },
  async s3(dir) {
    const [mon, rgw] = [await freePort(), await freePort()];
    const keys = { S3_ACCESS_KEY: 'berthtest', S3_SECRET_KEY: 'berthtestsecret' };
    const ms = script('ceph-up.sh', [join(dir, 'ceph'), String(mon), String(rgw)], keys);
    const endpoint = readFileSync(join(dir, 'ceph', 'endpoint'), 'utf8').trim();
    process.stderr.write(`services: Ceph radosgw (S3) at ${endpoint} in ${ms} ms\n`);
    return {
      BERTH_TEST_S3_ENDPOINT: endpoint,
      BERTH_TEST_S3_ACCESS_KEY: keys.S3_ACCESS_KEY,
      BERTH_TEST_S3_SECRET_KEY: keys.S3_SECRET_KEY,
      BERTH_TEST_S3_REGION: 'us-east-1',
    };
  },
};

const down = {
  postgres: (dir) => script('postgres-down.sh', [join(dir, 'postgres')]),
  s3: (dir) => script('ceph-down.sh', [join(dir, 'ceph')]),
};

/** Starts the named services in dir; returns the variables the tests read. Stops what started on failure. */
export async function servicesUp(dir, names = SERVICES) {
  mkdirSync(dir, { recursive: true });
  const env = {};
  const started = [];
  try {
    for (const name of names) {
      Object.assign(env, await up[name](dir));
      started.push(name);
      writeFileSync(join(dir, 'started'), started.join('\n'));
    }
  } catch (error) {
    servicesDown(dir);
    throw error;
  }
  writeFileSync(join(dir, 'env'), Object.entries(env).map(([key, value]) => `${key}=${value}\n`).join(''));
  return env;
}

/** Stops every service `servicesUp` started in dir. */
export function servicesDown(dir) {
  const file = join(dir, 'started');
  if (!existsSync(file)) return;
  for (const name of readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse()) {
    try {
      down[name](dir);
    } catch (error) {
      process.stderr.write(`${error.message}\n`);
    }
  }
  writeFileSync(file, '');
}

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : process.argv[at + 1];
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const command = process.argv[2];
  const dir = resolve(option('--dir', join(root, '.tmp', 'services')));
  if (command === 'up') {
    const names = option('--only', SERVICES.join(',')).split(',');
    for (const name of names) if (!SERVICES.includes(name)) throw new Error(`services: unknown service ${name} (one of ${SERVICES.join(', ')})`);
    const env = await servicesUp(dir, names);
    for (const [key, value] of Object.entries(env)) process.stdout.write(`export ${key}=${value}\n`);
  } else if (command === 'down') {
    servicesDown(dir);
  } else {
    process.stderr.write('usage: node scripts/services.mjs up|down [--dir D] [--only postgres,s3]\n');
    process.exit(2);
  }
}
