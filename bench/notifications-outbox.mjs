#!/usr/bin/env node
// What a dead notification endpoint costs (docs/operations.md, "Notifications"): the same pushes
// of small images into three Berths, taking turns: no endpoint, an endpoint that accepts, and an
// endpoint whose port is closed (every delivery fails). Prints images/s, the server's resident
// memory after each round and the outbox's backlog. Run after `npm run build`:
//   node bench/notifications-outbox.mjs [--rounds 3] [--clients 8] [--images 25]
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SmallBlob, ociManifest, putManifest, pushMonolithic, request } from './lib/client.mjs';
import { freePort, startServer } from './lib/servers.mjs';

const { values: opt } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, clients: { type: 'string', default: '8' }, images: { type: 'string', default: '25' } } });
const rounds = Number(opt.rounds);
const clients = Number(opt.clients);
const images = Number(opt.images);

function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

const accepting = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(202).end());
});
const acceptingPort = await freePort();
await new Promise((resolve) => accepting.listen(acceptingPort, '127.0.0.1', resolve));
const deadPort = await freePort(); // nothing listens: connection refused

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-outbox-bench-'));
const endpoint = (port) => `notifications:\n  endpoints:\n    - { name: hook, url: "http://127.0.0.1:${port}/events", timeout: 1s, threshold: 3, backoff: 1s }\n`;
const kinds = { none: '', accepting: endpoint(acceptingPort), dead: endpoint(deadPort) };
const servers = {};
try {
  for (const [name, extra] of Object.entries(kinds)) {
    const sub = path.join(dir, name);
    fs.mkdirSync(sub);
    servers[name] = await startServer('berth', sub, { extraConfig: extra });
  }
  const results = Object.fromEntries(Object.keys(kinds).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(kinds)) {
      const server = servers[name];
      const started = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          for (let i = 0; i < images; i++) {
            const repo = `bench/c${c}`;
            const config = new SmallBlob('config', Buffer.from(JSON.stringify({ round, c, i })));
            const layer = new SmallBlob('layer', crypto.randomBytes(8 * 1024));
            await pushMonolithic(server.base, repo, config);
            await pushMonolithic(server.base, repo, layer);
            await putManifest(server.base, repo, `r${round}-${i}`, ociManifest(config, [layer]));
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      results[name].push({ rate: (clients * images) / seconds, rss: rssMiB(server.pid) });
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  console.log(`${clients} clients × ${images} images per round, ${rounds} rounds in turns`);
  for (const [name, rows] of Object.entries(results)) {
    const metrics = (await request(servers[name].base, 'GET', '/metrics')).body.toString();
    const pending = /^registry_notifications_pending_total\{endpoint="hook"\} (\d+)/m.exec(metrics)?.[1] ?? '-';
    const db = fs.statSync(path.join(servers[name].dataDir, 'metadata.sqlite')).size + (fs.existsSync(path.join(servers[name].dataDir, 'metadata.sqlite-wal')) ? fs.statSync(path.join(servers[name].dataDir, 'metadata.sqlite-wal')).size : 0);
    console.log(
      `${name.padEnd(10)} images/s median ${median(rows.map((r) => r.rate)).toFixed(1).padStart(7)} (rounds ${rows.map((r) => r.rate.toFixed(1)).join(' / ')})   RSS after each round ${rows.map((r) => r.rss.toFixed(0)).join(' / ')} MiB   events pending ${pending}   metadata file ${(db / 2 ** 20).toFixed(1)} MiB`,
    );
  }
} finally {
  for (const server of Object.values(servers)) await server.stop();
  accepting.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
