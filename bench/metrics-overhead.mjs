#!/usr/bin/env node
// Small requests with metrics on versus off (docs/operations.md, "What metrics cost"): two Berth
// processes on the same data, one with http.debug.prometheus.enabled true, one false, take turns
// on GET manifest by tag, HEAD blob and GET tags/list at c=64; each turn is short and the figure is
// the median of the rounds, so that the machine's drift falls on both. Run after `npm run build`:
//   node bench/metrics-overhead.mjs [--duration 3] [--rounds 3] [--concurrency 64]
// It prints one line per load and the on/off ratio; it asserts nothing (timings on a shared
// machine are rough).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LoadGenerator } from './lib/loadgen.mjs';
import { startServer } from './lib/servers.mjs';
import { SmallBlob, ociManifest, putManifest, pushMonolithic, request } from './lib/client.mjs';
import crypto from 'node:crypto';

const { values: opt } = parseArgs({ options: { duration: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '64' } } });
const durationMs = Number(opt.duration) * 1000;
const rounds = Number(opt.rounds);
const concurrency = Number(opt.concurrency);

/** User + system CPU seconds of a process so far (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-metrics-bench-'));
const servers = {};
try {
  for (const [name, enabled] of [['on', true], ['off', false]]) {
    const sub = path.join(dir, name);
    fs.mkdirSync(sub);
    servers[name] = await startServer('berth', sub, { extraConfig: `  debug:\n    prometheus:\n      enabled: ${enabled}\n` });
  }
  // The same small image in both (each has its own data dir).
  const repo = 'bench/metrics';
  const config = new SmallBlob('config', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' })));
  const layer = new SmallBlob('layer', crypto.randomBytes(16 * 1024));
  const manifest = ociManifest(config, [layer]);
  const specs = {};
  for (const [name, server] of Object.entries(servers)) {
    await pushMonolithic(server.base, repo, config);
    await pushMonolithic(server.base, repo, layer);
    for (let i = 0; i < 20; i++) await putManifest(server.base, repo, `t${String(i).padStart(2, '0')}`, manifest);
    const tags = await request(server.base, 'GET', `/v2/${repo}/tags/list`);
    const common = { host: '127.0.0.1', port: server.port };
    specs[name] = {
      manifest_tag: { ...common, method: 'GET', path: `/v2/${repo}/manifests/t00`, accept: 'application/vnd.oci.image.manifest.v1+json', expect: { status: 200, body: manifest.body, digest: manifest.digest } },
      head_blob: { ...common, method: 'HEAD', path: `/v2/${repo}/blobs/${layer.digest}`, expect: { status: 200, contentLength: layer.size, digest: layer.digest } },
      tags_list: { ...common, method: 'GET', path: `/v2/${repo}/tags/list`, expect: { status: 200, body: tags.body } },
    };
  }
  const load = new LoadGenerator();
  const results = {};
  for (const load_ of Object.keys(specs.on)) {
    for (const name of ['on', 'off']) await load.run(specs[name][load_], { concurrency, durationMs: 300 }); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const name of round % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
        const cpu = cpuSeconds(servers[name].pid);
        const r = await load.run(specs[name][load_], { concurrency, durationMs });
        const usPerRequest = ((cpuSeconds(servers[name].pid) - cpu) * 1e6) / r.requests;
        if (r.bad > 0) throw new Error(`${load_} metrics ${name}: ${r.errors.join('; ')}`);
        const entry = (results[load_] ??= { on: [], off: [], cpuOn: [], cpuOff: [] });
        entry[name].push(r.rps);
        entry[name === 'on' ? 'cpuOn' : 'cpuOff'].push(usPerRequest);
      }
    }
  }
  await load.close();
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  console.log(`load (c=${concurrency}, ${rounds} × ${durationMs / 1000} s)   on req/s   off req/s   on/off   server CPU µs/req on / off   on/off`);
  for (const [name, r] of Object.entries(results)) {
    const on = median(r.on);
    const off = median(r.off);
    const cpuOn = median(r.cpuOn);
    const cpuOff = median(r.cpuOff);
    console.log(
      `${name.padEnd(28)} ${on.toFixed(0).padStart(10)} ${off.toFixed(0).padStart(11)} ${(on / off).toFixed(3).padStart(8)} ${cpuOn.toFixed(1).padStart(16)} / ${cpuOff.toFixed(1).padEnd(6)} ${(cpuOn / cpuOff).toFixed(3).padStart(7)}` +
        `   (rounds on ${r.on.map((v) => v.toFixed(0)).join('/')}, off ${r.off.map((v) => v.toFixed(0)).join('/')})`,
    );
  }
  const scrape = await request(servers.on.base, 'GET', '/metrics');
  console.log(`one scrape: ${scrape.body.length} bytes`);
} finally {
  for (const server of Object.values(servers)) await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
