#!/usr/bin/env node
// What metrics cost per request, counted in CPU instructions rather than timed: on a shared two-core
// machine the round-to-round spread of requests/s (±20–40%) is larger than the cost being measured,
// while valgrind's instruction count is the same whatever else the machine does. Berth runs under
// `valgrind --tool=callgrind --separate-threads=yes` with metrics on and off, both at once (the count
// does not depend on what else runs). Each run pushes one
// small image, warms up with `--warmup` requests of the mix (GET manifest by tag, HEAD blob, GET
// tags/list, 4 connections), then zeroes callgrind's counters (`callgrind_control --zero`), sends
// `--requests` more and dumps (`callgrind_control --dump`): the window holds only those requests, so
// start-up, the push and most of V8's compiling fall outside it. Per request it reports:
//   main    instructions of the main thread (the JavaScript, HTTP parsing, SQLite: the hot path),
//   all     all threads, which adds V8's concurrent compiler and GC threads and libuv's pool.
// V8 still compiles and collects inside the window at moments that depend on timing, which moves
// `all` by ±10% from run to run; `main` is the steadier figure. Each setting runs `--repeats`
// times and the figures are medians. Needs valgrind (Debian's package). Run after `npm run build`:
//   node bench/metrics-instructions.mjs [--warmup 15000] [--requests 3000] [--repeats 3] [--keep]
// The warm-up must be long: after 3,000 requests V8's optimizing compiler still runs in the window
// (+20–25% on `all`, in compiler threads); after 15,000 it is done and `all` is within 1% of `main`.
// --keep leaves the callgrind dumps (for callgrind_annotate) in the temporary directory it prints.
// It prints both figures for both settings and their ratios; it asserts nothing.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SmallBlob, ociManifest, putManifest, pushMonolithic, request } from './lib/client.mjs';
import { BERTH_MAIN, BERTH_NODE_FLAGS, configYaml, freePort } from './lib/servers.mjs';

const { values: opt } = parseArgs({
  options: { warmup: { type: 'string', default: '15000' }, requests: { type: 'string', default: '3000' }, repeats: { type: 'string', default: '3' }, keep: { type: 'boolean', default: false } },
});
const WARMUP = Number(opt.warmup);
const N = Number(opt.requests);
const repeats = Number(opt.repeats);

if (spawnSync('valgrind', ['--version']).status !== 0 || spawnSync('callgrind_control', ['-h']).error !== undefined) {
  console.log('metrics-instructions: valgrind is not installed (apt-get install valgrind); nothing measured');
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-metrics-instr-'));

/** Sends `count` requests of the mix over 4 connections; every answer must be 200. */
async function load(base, mix, count) {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const [method, p, headers] = mix[i % mix.length];
      const r = await request(base, method, p, { headers });
      if (r.status !== 200) throw new Error(`${method} ${p} → ${r.status}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

function callgrindControl(flag, pid) {
  const r = spawnSync('callgrind_control', [flag, String(pid)], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`callgrind_control ${flag} ${pid} failed: ${r.stderr || r.stdout}`);
}

/** Instructions per thread in the dump files of one part (`<out>.<part>-<thread>`). */
function partCounts(out, part) {
  const counts = new Map();
  for (const name of fs.readdirSync(path.dirname(out))) {
    const m = new RegExp(`^${path.basename(out)}\\.${part}-(\\d+)$`).exec(name);
    if (m === null) continue;
    const text = fs.readFileSync(path.join(path.dirname(out), name), 'utf8');
    const total = /^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text);
    counts.set(Number(m[1]), total === null ? 0 : Number(total[1]));
  }
  if (counts.size === 0) throw new Error(`no callgrind dump of part ${part} at ${out}`);
  return counts;
}

/** One run: start under callgrind, push, warm up, count a window of N requests; per-request figures. */
async function window(name, metrics, round) {
  const sub = path.join(dir, `${name}-${round}`);
  fs.mkdirSync(path.join(sub, 'data'), { recursive: true });
  const port = await freePort();
  const extra = `  draindelay: 0s\n  debug:\n    prometheus:\n      enabled: ${metrics}\n`;
  // One process (http.workers: 1): with more, the supervisor forks workers that serve the requests
  // outside valgrind, and the window would count nothing but the supervisor's idle loop.
  fs.writeFileSync(path.join(sub, 'config.yml'), configYaml('berth', path.join(sub, 'data'), port, extra, 1));
  const out = path.join(sub, 'cg');
  const log = fs.openSync(path.join(sub, 'server.log'), 'a');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('REGISTRY_') || k.startsWith('OTEL_')) delete env[k];
  const args = ['--tool=callgrind', '--cache-sim=no', '--branch-sim=no', '--separate-threads=yes', `--callgrind-out-file=${out}`];
  const child = spawn('valgrind', [...args, process.execPath, ...BERTH_NODE_FLAGS, BERTH_MAIN, 'serve', path.join(sub, 'config.yml')], { stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const base = `http://127.0.0.1:${port}`;
    // Generous: valgrind starts Node in about a minute on a quiet machine, several on a loaded one.
    const deadline = Date.now() + 900_000;
    for (;;) {
      try {
        if ((await request(base, 'GET', '/v2/')).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${name}: Berth under valgrind did not start; see ${sub}/server.log`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const repo = 'bench/metrics';
    const config = new SmallBlob('config', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' })));
    const layer = new SmallBlob('layer', crypto.randomBytes(16 * 1024));
    await pushMonolithic(base, repo, config);
    await pushMonolithic(base, repo, layer);
    await putManifest(base, repo, 'latest', ociManifest(config, [layer]));
    const mix = [
      ['GET', `/v2/${repo}/manifests/latest`, { accept: 'application/vnd.oci.image.manifest.v1+json' }],
      ['HEAD', `/v2/${repo}/blobs/${layer.digest}`, {}],
      ['GET', `/v2/${repo}/tags/list`, {}],
    ];
    await load(base, mix, WARMUP);
    callgrindControl('--zero', child.pid);
    const started = Date.now();
    await load(base, mix, N);
    const seconds = (Date.now() - started) / 1000;
    callgrindControl('--dump', child.pid);
    const counts = partCounts(out, 1);
    if ((counts.get(1) ?? 0) < N * 1000) throw new Error(`${name}: the window holds ${counts.get(1) ?? 0} instructions on the main thread for ${N} requests: the requests were not served by the process under valgrind`);
    // The same time again with no request: what runs by the clock (timers such as prom-client's
    // event-loop-delay sampling every 10 ms), whatever the load. Under valgrind a window of N
    // requests lasts ~50× longer than natively, so clock-driven work weighs ~50× more per request
    // than it does on a loaded native server; `net` takes it out.
    callgrindControl('--zero', child.pid);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    callgrindControl('--dump', child.pid);
    const idle = partCounts(out, 2);
    const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
    const main = (counts.get(1) ?? 0) / N;
    const all = sum(counts) / N;
    return { main, all, netMain: main - (idle.get(1) ?? 0) / N, netAll: all - sum(idle) / N, idleRate: (idle.get(1) ?? 0) / seconds, seconds, threads: counts.size };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

try {
  const perRequest = { on: [], off: [] };
  for (let round = 0; round < repeats; round++) {
    // Both settings at once: an instruction count does not depend on what else runs, and under
    // valgrind one run takes many minutes.
    const windows = await Promise.all([window('on', true, round), window('off', false, round)]);
    for (const [name, w] of [['on', windows[0]], ['off', windows[1]]]) {
      perRequest[name].push(w);
      console.log(`round ${round + 1}, metrics ${name}: ${w.main.toFixed(0)} instructions per request on the main thread, ${w.all.toFixed(0)} in all ${w.threads} threads; window ${w.seconds.toFixed(1)} s; idle main thread ${(w.idleRate / 1e6).toFixed(2)} M instructions/s; net of idle: main ${w.netMain.toFixed(0)}, all ${w.netAll.toFixed(0)}`);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  for (const key of ['main', 'all', 'netMain', 'netAll']) {
    const on = median(perRequest.on.map((w) => w[key]));
    const off = median(perRequest.off.map((w) => w[key]));
    const label = { main: 'main thread', all: 'all threads', netMain: 'main thread, net of idle', netAll: 'all threads, net of idle' }[key];
    console.log(`${label} (median of ${repeats}, ${N} requests after ${WARMUP}): on ${on.toFixed(0)}, off ${off.toFixed(0)} instructions per request; on / off ${(on / off).toFixed(4)} (${((on / off - 1) * 100).toFixed(2)}%)`);
  }
} finally {
  if (opt.keep) console.log(`callgrind dumps kept in ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
