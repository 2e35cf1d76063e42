#!/usr/bin/env node
// The whole test suite, as `npm test` runs it (after `npm run build`):
//   1. lint (layer rules included),
//   2. installs the Debian packages the end-to-end tests need when missing (root only),
//   3. runs every compiled test file with node:test, one file at a time so that the real-client
//      suites, which start their own daemons, never compete for the two cores.
// `node scripts/test.mjs unit` runs only the in-process suites; `… e2e` only the real clients.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv[2];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.status !== 0) {
    process.stderr.write(`test: ${command} ${args.join(' ')} failed (${result.status ?? result.signal})\n`);
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
if (only !== 'unit' && e2e.length > 0 && existsSync(join(root, 'scripts/install-test-deps.sh'))) {
  run('bash', ['scripts/install-test-deps.sh']);
}
const files = only === 'unit' ? unit : only === 'e2e' ? e2e : [...unit, ...e2e];
run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files.map((file) => relative(root, file)).sort()]);
