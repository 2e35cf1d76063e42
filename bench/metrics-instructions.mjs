#!/usr/bin/env node
// What metrics cost per request, counted in CPU instructions rather than timed: on a shared two-core
// machine the round-to-round spread of requests/s (±20–40%) is larger than the cost being measured,
// while valgrind's instruction count is the same whatever else the machine does. Berth runs under
// `valgrind --tool=callgrind` with metrics on and off; each setting runs twice, with N and with 2N
// requests of the same mix (GET manifest by tag, HEAD blob, GET tags/list, 4 connections), and the
// instructions per request are (I(2N) − I(N)) / N, which cancels start-up, the push and warm-up.
// Needs valgrind (Debian's package). Run after `npm run build`:
//   node bench/metrics-instructions.mjs [--requests 4000] [--repeats 3]
// V8 compiles and collects at moments that depend on timing, so one pair of runs varies by ±10%;
// the settings take turns `repeats` times and the figure is the median. It prints instructions per
// request for both settings and their ratio; it asserts nothing.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SmallBlob, ociManifest, putManifest, pushMonolithic, request } from './lib/client.mjs';
import { BERTH_MAIN, BERTH_NODE_FLAGS, configYaml, freePort } from './lib/servers.mjs';

const { values: opt } = parseArgs({ options: { requests: { type: 'string', default: '4000' }, repeats: { type: 'string', default: '3' } } });
const N = Number(opt.requests);
const repeats = Number(opt.repeats);

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.log('metrics-instructions: valgrind is not installed (apt-get install valgrind); nothing measured');
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-metrics-instr-'));

/** Starts Berth under callgrind, runs `count` requests of the mix, stops it; returns the instruction count. */
async function instructions(name, metrics, count) {
  const sub = path.join(dir, `${name}-${count}`);
  fs.mkdirSync(path.join(sub, 'data'), { recursive: true });
  const port = await freePort();
  const extra = `  draindelay: 0s\n  debug:\n    prometheus:\n      enabled: ${metrics}\n`;
  fs.writeFileSync(path.join(sub, 'config.yml'), configYaml('berth', path.join(sub, 'data'), port, extra));
  const out = path.join(sub, 'callgrind.out');
  const log = fs.openSync(path.join(sub, 'server.log'), 'a');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('REGISTRY_')) delete env[k];
  const child = spawn('valgrind', ['--tool=callgrind', '--cache-sim=no', '--branch-sim=no', `--callgrind-out-file=${out}`, process.execPath, ...BERTH_NODE_FLAGS, BERTH_MAIN, 'serve', path.join(sub, 'config.yml')], { stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      if ((await request(base, 'GET', '/v2/')).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${name}: Berth under valgrind did not start; see ${sub}/server.log`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const repo = 'bench/metrics';
  const config = new SmallBlob('config', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' })));
  const layer = new SmallBlob('layer', crypto.randomBytes(16 * 1024));
  const manifest = ociManifest(config, [layer]);
  await pushMonolithic(base, repo, config);
  await pushMonolithic(base, repo, layer);
  await putManifest(base, repo, 'latest', manifest);
  const mix = [
    ['GET', `/v2/${repo}/manifests/latest`, { accept: 'application/vnd.oci.image.manifest.v1+json' }],
    ['HEAD', `/v2/${repo}/blobs/${layer.digest}`, {}],
    ['GET', `/v2/${repo}/tags/list`, {}],
  ];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const [method, p, headers] = mix[i % mix.length];
      const r = await request(base, method, p, { headers });
      if (r.status !== 200) throw new Error(`${name}: ${method} ${p} → ${r.status}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  // SIGTERM, and wait: valgrind writes the count when the process exits (a SIGKILL would lose it).
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  const text = fs.readFileSync(out, 'utf8');
  const summary = /^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text);
  if (!summary) throw new Error(`${name}: no instruction total in ${out}`);
  return Number(summary[1]);
}

try {
  const perRequest = { on: [], off: [] };
  for (let round = 0; round < repeats; round++) {
    for (const [name, metrics] of round % 2 === 0 ? [['on', true], ['off', false]] : [['off', false], ['on', true]]) {
      const once = await instructions(name, metrics, N);
      const twice = await instructions(name, metrics, 2 * N);
      perRequest[name].push((twice - once) / N);
      console.log(`round ${round + 1}, metrics ${name}: ${once} instructions with ${N} requests, ${twice} with ${2 * N}: ${((twice - once) / N).toFixed(0)} per request`);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  const on = median(perRequest.on);
  const off = median(perRequest.off);
  console.log(`instructions per request (median of ${repeats}): on ${on.toFixed(0)}, off ${off.toFixed(0)}; on / off ${(on / off).toFixed(4)} (${((on / off - 1) * 100).toFixed(2)}%)`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
