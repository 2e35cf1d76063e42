// The pull-through cache's section of the bench (issue 14), also run alone by bench/proxy-bench.mjs:
// Berth and distribution v3 in proxy mode side by side against the same upstream, Debian's
// docker-registry 2.8.2 on the same machine:
//   cold       a blob's first pull through the cache (fetched from the upstream, verified, stored
//              while it streams), against the same size pulled straight from the upstream;
//   warm       the same blob pulled again (a cache hit), against a blob of the same size pushed
//              to the same registry without a proxy (hosted, local content);
//   N cold     N clients pulling one cold blob at once (one upstream fetch for Berth), against
//              one client's cold pull of the same size, and against N clients' cache hits of it
//              (the same bytes delivered and hashed: what the cold fetch adds);
//              The upstream is behind a counting proxy (every pull of it, direct ones too, goes
//              through it), which says how many upstream GETs the N cold pulls caused and, with
//              `upstreamMiBps`, shapes what the upstream sends to one shared rate, as the network
//              link to a remote registry does (on loopback a direct pull is a page-cache read);
//   push       a push of the same size to the registry, what a fill is like (receive, hash, write).
// Every pull is checked (status, Docker-Content-Digest, byte count, sha256), each in its own client
// thread. Registries take turns (which goes first alternates per round); each figure is the median
// of the rounds. Targets: warm ≥ 0.9× hosted, cold ≤ 1.2× direct, N cold ≤ 1.5× one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Blob, MiB, pushMonolithic } from './client.mjs';
import { CountingProxy } from './counting-proxy.mjs';
import { PullWorkers } from './parallel-pulls.mjs';
import { ensureReference, referenceVersion, startServer, v3Version } from './servers.mjs';

/** Seconds for `workers` to pull `blob` from `base` `copies` times at once (each pull checked). */
async function timedPull(workers, base, repo, blob, copies = 1) {
  const t0 = process.hrtime.bigint();
  await workers.pullAll(base, repo, Array.from({ length: copies }, () => blob));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

/** Runs the section; `v3` is the v3 binary or null. Returns the medians (seconds) and the table rows. */
export async function measureProxy({ v3 = null, sizes, rounds, concurrency, upstreamMiBps = 0, log = console.log }) {
  ensureReference();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-proxy-bench-'));
  const servers = [];
  const stops = [];
  const start = async (kind, name, extraConfig = '') => {
    const server = await startServer(kind, path.join(dir, name), { extraConfig, v3 });
    servers.push(server);
    return server;
  };
  try {
    const origin = await start('reference', 'upstream');
    // Every pull of the upstream, direct or by a cache, goes through one counting proxy.
    const counter = await CountingProxy.start(origin.base, upstreamMiBps);
    stops.push(() => counter.stop());
    const upstream = { base: counter.base };
    const proxyConfig = `proxy:\n  remoteurl: ${upstream.base}\n`;
    const contenders = [{ name: 'berth', proxy: await start('berth', 'berth-proxy', proxyConfig), hosted: await start('berth', 'berth-hosted') }];
    if (v3 !== null) contenders.push({ name: 'v3', proxy: await start('v3', 'v3-proxy', proxyConfig), hosted: await start('v3', 'v3-hosted') });
    const link = upstreamMiBps > 0 ? `, over a ${upstreamMiBps} MiB/s link` : ', over loopback';
    const versions = `upstream ${referenceVersion()}${link}${v3 === null ? '' : `; ${v3Version(v3)}`}`;
    log(`# pull-through cache: ${versions}; ${rounds} rounds, ${sizes.map((s) => s / MiB).join(', ')} MiB, ${concurrency} concurrent`);
    const one = new PullWorkers(1);
    const many = new PullWorkers(concurrency);
    const figures = {};
    const record = (key, seconds) => (figures[key] ??= []).push(seconds);
    try {
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? contenders : [...contenders].reverse();
        for (const size of sizes) {
          const mib = size / MiB;
          const blob = new Blob(`proxy-${round}-${mib}`, size);
          await pushMonolithic(upstream.base, 'bench/proxied', blob);
          record(`direct ${mib}`, await timedPull(one, upstream.base, 'bench/proxied', blob));
          for (const c of order) {
            const hosted = new Blob(`hosted-${c.name}-${round}-${mib}`, size);
            const pushed = process.hrtime.bigint();
            await pushMonolithic(c.hosted.base, 'bench/hosted', hosted);
            record(`${c.name} push ${mib}`, Number(process.hrtime.bigint() - pushed) / 1e9);
            record(`${c.name} cold ${mib}`, await timedPull(one, c.proxy.base, 'bench/proxied', blob));
            record(`${c.name} warm ${mib}`, await timedPull(one, c.proxy.base, 'bench/proxied', blob));
            record(`${c.name} hosted ${mib}`, await timedPull(one, c.hosted.base, 'bench/hosted', hosted));
          }
        }
        const shared = new Blob(`proxy-shared-${round}`, sizes[0]);
        await pushMonolithic(upstream.base, 'bench/proxied', shared);
        for (const c of order) {
          const before = counter.count('GET', `/v2/bench/proxied/blobs/${shared.digest}`);
          record(`${c.name} ${concurrency} cold`, await timedPull(many, c.proxy.base, 'bench/proxied', shared, concurrency));
          record(`${c.name} ${concurrency} cold upstream GETs`, counter.count('GET', `/v2/bench/proxied/blobs/${shared.digest}`) - before);
          record(`${c.name} ${concurrency} warm`, await timedPull(many, c.proxy.base, 'bench/proxied', shared, concurrency));
        }
        log(`# pull-through cache: round ${round + 1} of ${rounds} done`);
      }
    } finally {
      await one.close();
      await many.close();
    }
    const m = Object.fromEntries(Object.entries(figures).map(([key, values]) => [key, median(values)]));
    const rows = [];
    for (const c of contenders) {
      for (const size of sizes) {
        const mib = size / MiB;
        rows.push({ figure: `${c.name}: cache hit ${mib} MiB vs hosted (MiB/s)`, target: '≥ 0.9×', measured: mib / m[`${c.name} warm ${mib}`], against: mib / m[`${c.name} hosted ${mib}`], ratio: m[`${c.name} hosted ${mib}`] / m[`${c.name} warm ${mib}`] });
        rows.push({ figure: `${c.name}: cold ${mib} MiB vs direct from the upstream (s)`, target: '≤ 1.2×', measured: m[`${c.name} cold ${mib}`], against: m[`direct ${mib}`], ratio: m[`${c.name} cold ${mib}`] / m[`direct ${mib}`] });
        rows.push({ figure: `${c.name}: cold ${mib} MiB vs a push of ${mib} MiB to it (s)`, target: '', measured: m[`${c.name} cold ${mib}`], against: m[`${c.name} push ${mib}`], ratio: m[`${c.name} cold ${mib}`] / m[`${c.name} push ${mib}`] });
      }
      const first = sizes[0] / MiB;
      rows.push({ figure: `${c.name}: ${concurrency} concurrent cold ${first} MiB vs one (s)`, target: '≤ 1.5×', measured: m[`${c.name} ${concurrency} cold`], against: m[`${c.name} cold ${first}`], ratio: m[`${c.name} ${concurrency} cold`] / m[`${c.name} cold ${first}`] });
      rows.push({ figure: `${c.name}: upstream GETs of the blob for ${concurrency} concurrent cold pulls`, target: '1', measured: m[`${c.name} ${concurrency} cold upstream GETs`], against: concurrency, ratio: m[`${c.name} ${concurrency} cold upstream GETs`] / concurrency });
      rows.push({ figure: `${c.name}: ${concurrency} concurrent cold ${first} MiB vs ${concurrency} concurrent cache hits (s)`, target: '', measured: m[`${c.name} ${concurrency} cold`], against: m[`${c.name} ${concurrency} warm`], ratio: m[`${c.name} ${concurrency} cold`] / m[`${c.name} ${concurrency} warm`] });
    }
    return { versions, figures, medians: m, rows };
  } finally {
    for (const server of servers) await server.stop();
    for (const stop of stops) await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The section's Markdown table. */
export function proxyTable(result) {
  const lines = [`### Pull-through cache (${result.versions})`, '', '| figure | target | measured | against | ratio |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const row of result.rows) lines.push(`| ${row.figure} | ${row.target} | ${row.measured.toFixed(2)} | ${row.against.toFixed(2)} | ${row.ratio.toFixed(2)}× |`);
  return lines.join('\n');
}
