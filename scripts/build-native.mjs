#!/usr/bin/env node
// Builds native/sendfile.c into dist/native/sendfile.node with the system C compiler and the N-API
// headers of the running node (no node-gyp: an N-API module needs no link against node). Without a
// compiler or headers it warns and stops: Berth then copies blobs through user space (slower, same
// bytes). `--required` (CI) makes that an error.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = process.argv.includes('--required');
const headers = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((dir) => existsSync(join(dir, 'node_api.h')));
const out = join(root, 'dist', 'native', 'sendfile.node');

function giveUp(reason) {
  const text = `build-native: ${reason}; blobs will be copied through user space instead of sendfile(2)`;
  if (required) {
    console.error(`${text} (--required: failing)`);
    process.exit(1);
  }
  console.warn(text);
  process.exit(0);
}

if (process.platform !== 'linux') giveUp(`sendfile(2) is used on Linux only (this is ${process.platform})`);
if (headers === undefined) giveUp('no N-API headers (node_api.h) next to node or in /usr/include/node');
mkdirSync(dirname(out), { recursive: true });
const cc = process.env.CC ?? 'cc';
const result = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-I', headers, '-o', out, join(root, 'native', 'sendfile.c'), '-lpthread'], { stdio: 'inherit' });
if (result.error !== undefined) giveUp(`${cc} could not run (${result.error.message})`);
if (result.status !== 0) giveUp(`${cc} failed with status ${result.status}`);
