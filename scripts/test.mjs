#!/usr/bin/env node
// The whole test suite, as `npm test` runs it (after `npm run build`):
//   1. lint (layer rules included),
//   2. installs the Debian packages the tests need when missing (root only),
//   3. starts the services the tests need once for the whole run (scripts/services.mjs: PostgreSQL,
//      Ceph radosgw), unless the BERTH_TEST_* variables already name running ones,
//   4. runs every compiled test file with node:test, one file at a time so that the real-client
//      suites, which start their own daemons, never compete for the two cores; then stops the services.
// `node scripts/test.mjs unit` runs only the in-process suites; `… e2e` only the real clients.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { servicesDown, servicesUp } from './services.mjs';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv[2];

let stopServices = () => undefined;

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.status !== 0) {
    process.stderr.write(`test: ${command} ${args.join(' ')} failed (${result.status ?? result.signal})\n`);
    stopServices();
    process.exit(result.status ?? 1);
  }
}

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return testFiles(path);
    return entry.endsWith('.test.js') ? [path] : [];
  });
}

const unit = [...testFiles(join(root, 'dist/src')), ...testFiles(join(root, 'dist/test')).filter((file) => !file.includes('/e2e/'))];
const e2e = testFiles(join(root, 'dist/test/e2e'));

if (only === undefined) run('npx', ['eslint', '.']);
run('bash', ['scripts/install-test-deps.sh']);
const files = only === 'unit' ? unit : only === 'e2e' ? e2e : [...unit, ...e2e];
const env = { ...process.env };
if (env.BERTH_TEST_POSTGRES_URL === undefined || env.BERTH_TEST_S3_ENDPOINT === undefined) {
  const dir = join(root, '.tmp', `services-${process.pid}`);
  stopServices = () => servicesDown(dir);
  process.on('SIGINT', () => {
    stopServices();
    process.exit(130);
  });
  Object.assign(env, await servicesUp(dir));
}
run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files.map((file) => relative(root, file)).sort()], { env });
stopServices();
