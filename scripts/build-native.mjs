#!/usr/bin/env node
// Builds each native helper, native/<name>.c, into dist/native/<name>.node with the system C compiler
// and the N-API headers of the running node (no node-gyp: an N-API module needs no link against
// node). Without a compiler or headers it warns and stops: Berth then does the same work through
// node:fs (slower, same bytes). `--required` (CI) makes that an error.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = process.argv.includes('--required');
const headers = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((dir) => existsSync(join(dir, 'node_api.h')));
const sources = readdirSync(join(root, 'native')).filter((name) => name.endsWith('.c'));
const outDir = join(root, 'dist', 'native');

function giveUp(reason) {
  const text = `build-native: ${reason}; Berth will use node:fs instead of its native helpers (sendfile(2), one-job small writes)`;
  if (required) {
    console.error(`${text} (--required: failing)`);
    process.exit(1);
  }
  console.warn(text);
  process.exit(0);
}

if (process.platform !== 'linux') giveUp(`the helpers are built on Linux only (this is ${process.platform})`);
if (headers === undefined) giveUp('no N-API headers (node_api.h) next to node or in /usr/include/node');
mkdirSync(outDir, { recursive: true });
const cc = process.env.CC ?? 'cc';
for (const source of sources) {
  const out = join(outDir, `${basename(source, '.c')}.node`);
  const result = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-I', headers, '-o', out, join(root, 'native', source), '-lpthread'], { stdio: 'inherit' });
  if (result.error !== undefined) giveUp(`${cc} could not run (${result.error.message})`);
  if (result.status !== 0) giveUp(`${cc} failed on ${source} with status ${result.status}`);
}
