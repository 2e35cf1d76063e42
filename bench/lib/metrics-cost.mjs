// What metrics cost on the hot path (issue 15): two Berth processes on equal data, one with
// http.debug.prometheus.enabled true and one false, take turns on small requests (GET manifest by
// tag, HEAD blob, GET tags/list). Each load runs `rounds` times per setting, alternating which goes
// first, so the machine's drift falls on both; the figures are medians. Per load: requests/s and
// server CPU µs per request of both, and on/off ratios. Used by bench.mjs (its "metrics cost"
// section) and bench/metrics-overhead.mjs (the same on its own). It asserts nothing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SmallBlob, ociManifest, putManifest, pushMonolithic, request } from './client.mjs';
import { LoadGenerator } from './loadgen.mjs';
import { cpuSeconds } from './proc.mjs';
import { startServer } from './servers.mjs';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

/**
 * @param {{ durationMs: number, rounds: number, concurrency: number, warmupMs?: number, log?: (...a: unknown[]) => void }} options
 * @returns {Promise<{ concurrency: number, rounds: number, duration_ms: number, loads: Record<string, object>, cpu_ratio: number, rps_ratio: number, scrape_bytes: number }>}
 */
export async function measureMetricsCost({ durationMs, rounds, concurrency, warmupMs = 500, log = () => {} }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-metrics-cost-'));
  const servers = {};
  const load = new LoadGenerator();
  try {
    for (const [name, enabled] of [['on', true], ['off', false]]) {
      const sub = path.join(dir, name);
      fs.mkdirSync(sub);
      // One process (http.workers: 1): the CPU per request is read from this PID alone.
      servers[name] = await startServer('berth', sub, { workers: 1, extraConfig: `  debug:\n    prometheus:\n      enabled: ${enabled}\n` });
    }
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
    const loads = {};
    for (const id of Object.keys(specs.on)) {
      for (const name of ['on', 'off']) await load.run(specs[name][id], { concurrency, durationMs: warmupMs });
      const rounds_ = { on: [], off: [] };
      for (let round = 0; round < rounds; round++) {
        for (const name of round % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
          const before = cpuSeconds([servers[name].pid]);
          const r = await load.run(specs[name][id], { concurrency, durationMs });
          const cpuUs = ((cpuSeconds([servers[name].pid]) - before) * 1e6) / r.requests;
          if (r.bad > 0) throw new Error(`metrics cost, ${id} with metrics ${name}: ${r.bad} bad responses: ${r.errors.join('; ')}`);
          rounds_[name].push({ rps: r.rps, cpu_us_per_req: cpuUs });
        }
      }
      const figure = (name, key) => median(rounds_[name].map((x) => x[key]));
      loads[id] = {
        rps_on: figure('on', 'rps'),
        rps_off: figure('off', 'rps'),
        cpu_us_per_req_on: figure('on', 'cpu_us_per_req'),
        cpu_us_per_req_off: figure('off', 'cpu_us_per_req'),
        rounds: rounds_,
      };
      loads[id].rps_ratio = loads[id].rps_on / loads[id].rps_off;
      loads[id].cpu_ratio = loads[id].cpu_us_per_req_on / loads[id].cpu_us_per_req_off;
      log(`  metrics cost ${id} c=${concurrency}: on ${loads[id].rps_on.toFixed(0)} req/s ${loads[id].cpu_us_per_req_on.toFixed(1)} µs CPU/req, off ${loads[id].rps_off.toFixed(0)} req/s ${loads[id].cpu_us_per_req_off.toFixed(1)} µs CPU/req`);
    }
    const geomean = (key) => Math.exp(Object.values(loads).reduce((a, l) => a + Math.log(l[key]), 0) / Object.keys(loads).length);
    const scrape = await request(servers.on.base, 'GET', '/metrics');
    return { concurrency, rounds, duration_ms: durationMs, loads, cpu_ratio: geomean('cpu_ratio'), rps_ratio: geomean('rps_ratio'), scrape_bytes: scrape.body.length };
  } finally {
    await load.close();
    for (const server of Object.values(servers)) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The section's text: one line per load and the overall ratios (geometric means over the loads). */
export function metricsCostTable(cost) {
  const lines = [
    `## Metrics cost (small requests, metrics on versus off, c=${cost.concurrency}, ${cost.rounds} rounds × ${cost.duration_ms / 1000} s each, taking turns; goal: under 5%)`,
    '',
    '| load | on req/s | off req/s | on/off req/s | on CPU µs/req | off CPU µs/req | on/off CPU |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const [id, l] of Object.entries(cost.loads)) {
    lines.push(`| ${id} | ${l.rps_on.toFixed(0)} | ${l.rps_off.toFixed(0)} | ${l.rps_ratio.toFixed(3)} | ${l.cpu_us_per_req_on.toFixed(1)} | ${l.cpu_us_per_req_off.toFixed(1)} | ${l.cpu_ratio.toFixed(3)} |`);
  }
  lines.push(`| **all (geometric mean)** | | | ${cost.rps_ratio.toFixed(3)} | | | ${cost.cpu_ratio.toFixed(3)} |`);
  lines.push('', `Server CPU per request with metrics on is ${Math.abs((cost.cpu_ratio - 1) * 100).toFixed(1)}% ${cost.cpu_ratio >= 1 ? 'above' : 'below'} off; one scrape of the "on" server: ${cost.scrape_bytes} bytes. On a busy machine the rounds spread more than that; \`node bench/metrics-instructions.mjs\` counts instructions instead.`);
  return lines.join('\n');
}
