// The small-request ceiling of node:http itself on this machine, measured with the bench's own load
// generator: a server that does nothing but answer every request with a fixed manifest (the same
// bytes and headers as Berth's answer to the bench's manifest GET), in 1 process and in N (cluster),
// taking turns with any registry URLs given. No registry can serve small requests faster than the
// runtime's HTTP stack does with no work at all; a target above this line cannot be met in Node.
//
//   node bench/http-ceiling.mjs [--workers 1,2] [--duration 5] [--registry NAME=PID@http://127.0.0.1:PORT/v2/REPO/manifests/TAG ...]
//
// A registry given with --registry is asked for that manifest path (Accept: OCI manifest) and its
// answer is checked like the hello server's; PID is the process whose CPU is counted (its tree).
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { LoadGenerator } from './lib/loadgen.mjs';
import { freePort } from './lib/servers.mjs';
import { cpuSeconds, processTree } from './lib/proc.mjs';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
// A manifest of the bench's size (one config, one layer): about 400 bytes.
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 71 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'2'.repeat(64)}`, size: 32768 }],
  }),
);
const digest = `sha256:${crypto.createHash('sha256').update(manifest).digest('hex')}`;

if (cluster.isWorker) {
  http
    .createServer((_req, res) => {
      res.writeHead(200, {
        'Docker-Distribution-API-Version': 'registry/2.0',
        'X-Request-Id': crypto.randomUUID(),
        'Content-Type': OCI_MANIFEST,
        'Content-Length': manifest.length,
        'Docker-Content-Digest': digest,
        ETag: `"${digest}"`,
      });
      res.end(manifest);
    })
    .listen(Number(process.env.CEILING_PORT), '127.0.0.1');
} else {
  const { values } = parseArgs({ options: { workers: { type: 'string', default: '1,2' }, duration: { type: 'string', default: '5' }, registry: { type: 'string', multiple: true, default: [] } } });
  const durationMs = Number(values.duration) * 1000;
  const lg = new LoadGenerator();
  const targets = [];
  for (const count of values.workers.split(',').map(Number)) {
    const port = await freePort();
    cluster.setupPrimary({ env: { ...process.env, CEILING_PORT: String(port) } });
    const workers = Array.from({ length: count }, () => cluster.fork({ CEILING_PORT: String(port) }));
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('listening', resolve))));
    targets.push({
      name: `node:http hello, ${count} process${count === 1 ? '' : 'es'}`,
      pids: workers.map((w) => w.process.pid),
      spec: { host: '127.0.0.1', port, method: 'GET', path: '/v2/ceiling/manifests/latest', accept: OCI_MANIFEST, expect: { status: 200, body: manifest, digest } },
      stop: () => workers.forEach((w) => w.kill()),
    });
  }
  for (const given of values.registry) {
    const m = /^([^=]+)=(\d+)@(http:\/\/[^/]+)(\/.+)$/.exec(given);
    if (m === null) throw new Error(`--registry ${given}: expected NAME=PID@http://HOST:PORT/PATH`);
    const [, name, pid, origin, path] = m;
    const url = new URL(origin);
    const body = await new Promise((resolve, reject) => {
      http.get(`${origin}${path}`, { headers: { Accept: OCI_MANIFEST } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve({ bytes: Buffer.concat(chunks), digest: res.headers['docker-content-digest'] }) : reject(new Error(`${name}: GET ${path} answered ${res.statusCode}`))));
      }).on('error', reject);
    });
    targets.push({ name, pids: [Number(pid)], spec: { host: url.hostname, port: Number(url.port), method: 'GET', path, accept: OCI_MANIFEST, expect: { status: 200, body: body.bytes, digest: body.digest } }, stop: () => undefined });
  }
  const cpu = (pids) => cpuSeconds(pids.flatMap((pid) => processTree(pid)));
  console.log('| server | c=1 req/s | c=1 server CPU µs/req | c=64 req/s | c=64 server CPU µs/req |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  const rows = new Map(targets.map((t) => [t.name, []]));
  for (const t of targets) await lg.run(t.spec, { concurrency: 16, durationMs: 1000 });
  // In turns, concurrency by concurrency, so that the machine's drift falls on each.
  for (const c of [1, 64]) {
    for (const t of targets) {
      const before = cpu(t.pids);
      const r = await lg.run(t.spec, { concurrency: c, durationMs });
      if (r.bad > 0) throw new Error(`${t.name} c=${c}: ${r.bad} bad responses: ${r.errors.join('; ')}`);
      rows.get(t.name).push(r.rps, (1e6 * (cpu(t.pids) - before)) / r.requests);
    }
  }
  for (const [name, [rps1, cpu1, rps64, cpu64]] of rows) console.log(`| ${name} | ${rps1.toFixed(0)} | ${cpu1.toFixed(1)} | ${rps64.toFixed(0)} | ${cpu64.toFixed(1)} |`);
  for (const t of targets) t.stop();
  await lg.close();
}
