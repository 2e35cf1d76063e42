#!/usr/bin/env node
// `npm run bench`: Berth against the reference registries (Debian's docker-registry 2.8 and, when
// given, CNCF Distribution v3), taking turns
// step by step, same validated workload, one side-by-side table, plus the growth case. See bench/README.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { Alternation } from './lib/alternation.mjs';
import { LoadGenerator } from './lib/loadgen.mjs';
import { PullWorkers } from './lib/parallel-pulls.mjs';
import { ServerMonitor, startSection, machineBusySeconds } from './lib/proc.mjs';
import { REPO_ROOT, BERTH_MAIN, ensureReference, referenceVersion, v3Binary, v3Version, startServer, tail } from './lib/servers.mjs';
import {
  MiB,
  GiB,
  Blob,
  SmallBlob,
  BenchError,
  OCI_MANIFEST,
  agent,
  request,
  pushMonolithic,
  pushChunked,
  pullBlob,
  ociManifest,
  putManifest,
  getManifest,
  pushSmallBlobAsClient,
  pullSmallBlob,
  sha256,
  startUpload,
} from './lib/client.mjs';
import { seed, metadataFile, BIG_REPO, repoName, tagName } from './lib/growth.mjs';
import { measureMetricsCost, metricsCostTable } from './lib/metrics-cost.mjs';
import { measureProxy, proxyTable } from './lib/proxy-cost.mjs';
import { s3Service, postgresService, createBucket, createDatabase } from './lib/backends.mjs';

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string' },
    v3: { type: 'string' },
    'berth-workers': { type: 'string' },
    'berth-db': { type: 'string' },
    storage: { type: 'string' },
    'small-only': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-growth': { type: 'boolean', default: false },
    'growth-only': { type: 'boolean', default: false },
    'no-metrics-cost': { type: 'boolean', default: false },
    'no-proxy': { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log(`usage: npm run bench -- [--only NAME,...] [--v3 PATH] [--berth-workers N,...] [--berth-db sqlite,postgres]
                       [--storage fs|s3] [--small-only] [--quick] [--out FILE] [--duration SECONDS]
                       [--no-growth] [--growth-only]
  --only       the registries to run, comma-separated: berth (every Berth variant), a variant's name
               (berth-w1, berth-pg, ...), reference, v3 (one alone: no ratios)
  --v3         the CNCF Distribution v3.0.0 binary, the second reference (or env
               BERTH_BENCH_DISTRIBUTION_V3); without it, v3 is left out and the bench says so
  --berth-workers N[,M...]   Berth's http.workers (default: Berth's own default, the number of CPUs);
               several counts run one Berth each (berth-w1, berth-w2), all taking turns
  --berth-db sqlite[,postgres]   Berth's metadata store (postgres: a fresh database on
               BERTH_BENCH_POSTGRES_URL or BERTH_TEST_POSTGRES_URL); both: berth-sqlite, berth-pg
  --storage fs|s3   blob storage of every registry (s3: a fresh bucket each on BERTH_BENCH_S3_* or
               BERTH_TEST_S3_*, redirect off, smaller blobs; 2.8 is left out unless --only names it)
  --small-only just the small requests (and the smoke check): no push, pull or many-images sections
  --quick      small sizes and short runs: a smoke check of the bench itself (about 1 minute)
  --out        JSON results (default bench/results/bench-<date>.json)
  --duration   seconds per small-request load (default 5, quick 1)
  --rounds     times each push, pull and many-images section runs, in turns; the figure is the
               median round (default 3, quick 1)
  --no-growth / --growth-only   leave out / run only the growth case (Berth, 100k repos, 1M tags)
  --no-metrics-cost   leave out the metrics-cost section (Berth, small requests, metrics on versus off)
  --no-proxy   leave out the pull-through cache section (Berth and v3 in proxy mode against 2.8.2)`);
  process.exit(0);
}
const V3 = v3Binary(opt.v3);
const WORKERS = opt['berth-workers'] === undefined ? [undefined] : opt['berth-workers'].split(',').map(Number);
if (WORKERS.some((w) => w !== undefined && !(Number.isSafeInteger(w) && w >= 1))) throw new Error('--berth-workers must be positive integers');
const DBS = (opt['berth-db'] ?? 'sqlite').split(',');
if (DBS.some((d) => !['sqlite', 'postgres'].includes(d))) throw new Error('--berth-db must be sqlite, postgres or both');
const STORAGE = opt.storage ?? 'fs';
if (!['fs', 's3'].includes(STORAGE)) throw new Error('--storage must be fs or s3');
const S3 = STORAGE === 's3' ? s3Service() : null;
if (S3 && !S3.service) throw new Error(`--storage s3: ${S3.why}`);
const PG = DBS.includes('postgres') ? postgresService() : null;
if (PG && !PG.url) throw new Error(`--berth-db postgres: ${PG.why}`);
const BERTH_WORKERS = WORKERS[0];

/** Every registry the bench knows: the Berth variants (workers × metadata store), then the references. */
const REGISTRIES = [
  ...DBS.flatMap((db) =>
    WORKERS.map((workers) => ({
      name: ['berth', ...(DBS.length > 1 ? [db === 'postgres' ? 'pg' : 'sqlite'] : []), ...(WORKERS.length > 1 ? [`w${workers}`] : [])].join('-'),
      label: `Berth${db === 'postgres' ? ' PG' : DBS.length > 1 ? ' SQLite' : ''}${WORKERS.length > 1 ? ` ${workers}w` : ''}`,
      type: 'berth',
      workers,
      db,
    })),
  ),
  { name: 'reference', label: 'distribution 2.8', type: 'reference' },
  { name: 'v3', label: 'distribution v3', type: 'v3' },
];
const wanted = opt.only?.split(',');
for (const w of wanted ?? []) if (!REGISTRIES.some((r) => r.name === w || r.type === w)) throw new Error(`--only: no registry ${w} (${REGISTRIES.map((r) => r.name).join(', ')})`);
if (wanted?.includes('v3') && !V3.path) throw new Error(`--only v3: ${V3.why}`);
const selected = REGISTRIES.filter((r) =>
  wanted ? wanted.includes(r.name) || wanted.includes(r.type) : r.type === 'berth' || (r.type === 'reference' && STORAGE === 'fs') || (r.type === 'v3' && V3.path),
);

const Q = opt.quick;
const SMALL = opt['small-only'];
const P = {
  // On S3 (a shared radosgw that keeps objects in memory) the blobs are fewer and smaller.
  monoSizes: STORAGE === 's3' ? [1 * MiB, 64 * MiB] : Q ? [1 * MiB, 16 * MiB, 64 * MiB] : [1 * MiB, 64 * MiB, 512 * MiB],
  groupBytes: STORAGE === 's3' ? 128 * MiB : 256 * MiB,
  chunkedSize: STORAGE === 's3' ? 64 * MiB : Q ? 32 * MiB : 256 * MiB,
  chunk: 8 * MiB,
  durationMs: Math.round(1000 * Number(opt.duration ?? (Q ? 1 : 5))),
  rounds: Math.max(1, Math.round(Number(opt.rounds ?? (Q ? 1 : 3)))),
  warmupMs: Q ? 200 : 500,
  imgClients: Q ? 4 : 16,
  imgPerClient: Q ? 10 : 50,
  imgWarmupPerClient: Q ? 2 : 10,
  imgReposPerClient: 5,
  pullThreads: 4,
  parallelPullSize: 64 * MiB,
  parallelPullPasses: 2,
  growth: Q ? { repos: 10_000, total: 100_000, bigTags: 10_009 } : { repos: 100_000, total: 1_000_000, bigTags: 100_009 },
  growthSmall: { repos: 400, bigTags: 1_000, tagsPerRepo: 9 },
  growthMs: Q ? 1000 : 3000,
  startups: 3,
};
const countFor = (size) => Math.min(20, Math.max(1, Math.ceil(P.groupBytes / size)));
const sizeName = (n) => (n >= MiB ? `${n / MiB}MiB` : `${n / 1024}KiB`);

const log = (...a) => console.error(...a);
const runId = crypto.randomBytes(3).toString('hex');

// ------------------------------------------------------------------------------------------ one registry

async function benchRegistry(reg, alternation) {
  const kind = reg.name;
  const step = () => alternation.step(kind);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-bench-${kind}-`));
  const out = { kind, type: reg.type, label: reg.label, workers: reg.workers ?? null, db: reg.db ?? null, storage: STORAGE, figures: {}, sections: {}, errors: [], valid: true };
  const fig = (id, value, sec, extra = {}) => (out.figures[id] = { value, other_pct: sec?.other_pct ?? null, server_pct: sec?.server_pct ?? null, client_pct: sec?.client_pct ?? null, ...extra });
  /**
   * Runs a timed section P.rounds times, each round in a turn of its own (so the rounds of the two
   * registries interleave), and records the median round: one round can meet a slow spell of the VM.
   * prepare(round), untimed, makes the round's input; run(input, round) does the timed work and
   * returns { units } (what is counted per second) and any extras. Resolves with every round's
   * { value, sec, units, extra }.
   */
  const rounds = async (id, run, prepare = () => undefined) => {
    const all = [];
    for (let round = 0; round < P.rounds; round++) {
      await step();
      const input = await prepare(round);
      const s = startSection(mon);
      const { units, ...extra } = await run(input, round);
      const sec = s.end();
      all.push({ value: units / sec.wall_s, sec, units, extra });
    }
    // The median; with an even count, the lower of the two middle rounds.
    const median = [...all].sort((a, b) => a.value - b.value)[Math.floor((all.length - 1) / 2)];
    const values = all.map((r) => r.value);
    out.sections[id] = { ...median.sec, ...median.extra, rounds: values };
    fig(id, median.value, median.sec, { ...median.extra, rounds: values });
    log(`  ${kind} ${id}: ${values.map((v) => v.toFixed(1)).join(' / ')} (median ${median.value.toFixed(1)})`);
    return all;
  };
  let srv;
  let mon;
  let bucket;
  let database;
  const lg = new LoadGenerator();
  const pullers = new PullWorkers(P.pullThreads);
  try {
    await step();
    log(`\n## ${kind}: starting (data in ${dir})`);
    const busy0 = machineBusySeconds();
    await new Promise((r) => setTimeout(r, 1000));
    out.machine_busy_before_pct = Math.round((machineBusySeconds() - busy0) * 1000) / 10;
    const backend = {};
    if (S3) {
      bucket = await createBucket(S3.service, kind);
      backend.storage = bucket.yaml;
    }
    if (reg.db === 'postgres') {
      database = await createDatabase(PG.url, kind);
      backend.database = database.yaml;
    }
    srv = await startServer(reg.type, dir, { v3: V3.path, workers: reg.workers, backend });
    mon = new ServerMonitor(srv.pid);
    out.pid = srv.pid;
    fig('startup', srv.startupMs, null);
    const base = srv.base;
    const ns = `bench-${runId}`;

    // ---- 0 smoke: a registry that does not check digests cannot go on
    await step();
    {
      const r = await request(base, 'GET', '/v2/');
      if (r.status !== 200) throw new BenchError(`GET /v2/: ${r.status}`);
      const bad = new SmallBlob('smoke', crypto.randomBytes(1000));
      const claimed = sha256(Buffer.from('something else'));
      const loc = await startUpload(base, `${ns}/smoke`);
      const put = await request(base, 'PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${claimed}`, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bad.size) },
        body: bad.buffer,
      });
      if (put.status !== 400) throw new BenchError(`PUT with a wrong digest: status ${put.status}, expected 400`);
      for (const d of [claimed, bad.digest]) {
        const h = await request(base, 'HEAD', `/v2/${ns}/smoke/blobs/${d}`);
        if (h.status !== 404) throw new BenchError(`HEAD after a rejected upload: ${h.status}, expected 404`);
      }
    }

    // ---- 1 monolithic push, 2 chunked push
    const pushed = [];
    /** Server CPU and bytes over every round of the push (or pull) sections, for the CPU per GiB. */
    const pushTotal = { cpu_s: 0, bytes: 0 };
    const pullTotal = { cpu_s: 0, bytes: 0 };
    const tally = (total, all) => {
      for (const r of all) {
        total.cpu_s += r.sec.server_cpu_s;
        total.bytes += r.units * MiB;
      }
    };
    for (const size of SMALL ? [] : P.monoSizes) {
      const n = countFor(size);
      const repo = `${ns}/mono`;
      const batches = [];
      const all = await rounds(
        `push_mono_${sizeName(size)}`,
        async (blobs) => {
          for (const b of blobs) await pushMonolithic(base, repo, b);
          return { units: (n * size) / MiB };
        },
        // New blobs each round; their digests are computed before the clock starts.
        (round) => {
          const blobs = Array.from({ length: n }, (_, i) => new Blob(`mono-${sizeName(size)}-${round}-${i}`, size));
          batches.push(blobs);
          return blobs;
        },
      );
      tally(pushTotal, all);
      pushed.push({ id: `pull_mono_${sizeName(size)}`, repo, blobs: batches[0] });
    }
    if (!SMALL) {
      const repo = `${ns}/chunked`;
      const batches = [];
      const all = await rounds(
        'push_chunked',
        async (blob) => {
          await pushChunked(base, repo, blob, P.chunk);
          return { units: P.chunkedSize / MiB };
        },
        (round) => {
          const blob = new Blob(`chunked-${sizeName(P.chunkedSize)}-${round}`, P.chunkedSize);
          batches.push(blob);
          return blob;
        },
      );
      tally(pushTotal, all);
      pushed.push({ id: 'pull_chunked', repo, blobs: [batches[0]] });
    }

    // ---- 3 pull, each body hashed by the client while it streams
    for (const g of pushed) {
      const all = await rounds(g.id, async () => {
        for (const b of g.blobs) await pullBlob(base, g.repo, b);
        return { units: g.blobs.reduce((sum, b) => sum + b.size, 0) / MiB };
      });
      tally(pullTotal, all);
    }
    // The 64 MiB blobs again, pulled in parallel by client threads that each hash their own blob: one
    // client thread receiving and hashing bounds the serial pulls above on loopback.
    if (!SMALL) {
      const g = pushed.find((x) => x.id === `pull_mono_${sizeName(P.parallelPullSize)}`);
      // The threads' first pulls are slow (measured: about twice the client CPU per GiB): unmeasured.
      await pullers.pullAll(base, g.repo, g.blobs);
      const blobs = Array.from({ length: P.parallelPullPasses }, () => g.blobs).flat();
      const all = await rounds('pull_parallel', async () => {
        await pullers.pullAll(base, g.repo, blobs);
        return { units: blobs.reduce((sum, b) => sum + b.size, 0) / MiB };
      });
      tally(pullTotal, all);
    }

    // ---- 4 small requests at c=1 and c=64
    await step();
    {
      const repo = `${ns}/small`;
      const config = new SmallBlob('config', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', run: runId })));
      const layer = new SmallBlob('layer', crypto.randomBytes(32 * 1024));
      await pushSmallBlobAsClient(base, repo, config);
      await pushSmallBlobAsClient(base, repo, layer);
      const manifest = ociManifest(config, [layer]);
      const tags = Array.from({ length: 20 }, (_, i) => `v${String(i).padStart(2, '0')}`);
      for (const t of tags) await putManifest(base, repo, t, manifest);
      await getManifest(base, repo, 'v07', manifest);
      await getManifest(base, repo, manifest.digest, manifest);
      const tl = await request(base, 'GET', `/v2/${repo}/tags/list`);
      const parsed = JSON.parse(tl.body.toString('utf8'));
      if (tl.status !== 200 || parsed.name !== repo || JSON.stringify([...parsed.tags].sort()) !== JSON.stringify(tags)) {
        throw new BenchError(`GET tags/list: ${tl.status} ${tl.body.toString('utf8', 0, 300)}`);
      }
      const common = { host: '127.0.0.1', port: srv.port };
      const specs = {
        manifest_tag: { ...common, method: 'GET', path: `/v2/${repo}/manifests/v07`, accept: OCI_MANIFEST, expect: { status: 200, body: manifest.body, digest: manifest.digest } },
        manifest_digest: { ...common, method: 'GET', path: `/v2/${repo}/manifests/${manifest.digest}`, accept: OCI_MANIFEST, expect: { status: 200, body: manifest.body, digest: manifest.digest } },
        head_blob: { ...common, method: 'HEAD', path: `/v2/${repo}/blobs/${layer.digest}`, expect: { status: 200, contentLength: layer.size, digest: layer.digest } },
        tags_list: { ...common, method: 'GET', path: `/v2/${repo}/tags/list`, expect: { status: 200, body: tl.body } },
      };
      for (const [name, spec] of Object.entries(specs)) {
        await step();
        await lg.run(spec, { concurrency: 16, durationMs: P.warmupMs });
        for (const c of [1, 64]) {
          await step();
          const s = startSection(mon);
          const r = await lg.run(spec, { concurrency: c, durationMs: P.durationMs });
          const sec = s.end();
          const id = `${name}_c${c}`;
          out.sections[id] = { ...sec, load: r, server_cpu_us_per_req: (1e6 * sec.server_cpu_s) / r.requests };
          if (r.bad > 0) {
            out.valid = false;
            out.errors.push(`${id}: ${r.bad} bad responses: ${r.errors.join('; ')}`);
            fig(id, null, sec);
          } else fig(id, r.rps, sec, { p50_ms: r.p50_ms, p99_ms: r.p99_ms });
          log(`  ${kind} ${id}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50_ms?.toFixed(3)} ms, p99 ${r.p99_ms?.toFixed(3)} ms${r.bad ? `, ${r.bad} BAD` : ''}`);
        }
      }
    }

    // ---- 5 many small images: parallel clients push, then pull back
    if (!SMALL) {
      await step();
      /** Per client, `count` images (3 small layers and a config each) over imgReposPerClient repositories. */
      const makeImages = (group, count) =>
        Array.from({ length: P.imgClients }, (_, c) =>
          Array.from({ length: count }, (_, i) => {
            const repo = `${ns}/${group}/c${c}-r${i % P.imgReposPerClient}`;
            const layers = Array.from({ length: 3 }, (_, k) => new SmallBlob(`l${k}`, crypto.randomBytes(4096 + crypto.randomInt(60 * 1024))));
            const config = new SmallBlob('config', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', group, client: c, image: i, run: runId })));
            return { repo, tag: `i${i}`, layers, config, manifest: ociManifest(config, layers) };
          }),
        );
      const pushAll = (images, latencies) =>
        Promise.all(
          images.map(async (list) => {
            for (const im of list) {
              const t0 = performance.now();
              for (const b of [...im.layers, im.config]) await pushSmallBlobAsClient(base, im.repo, b);
              await putManifest(base, im.repo, im.tag, im.manifest);
              latencies.push(performance.now() - t0);
            }
          }),
        );
      const pullAll = (images, latencies) =>
        Promise.all(
          images.map(async (list) => {
            for (const im of list) {
              const t0 = performance.now();
              await getManifest(base, im.repo, im.tag, im.manifest);
              for (const b of [im.config, ...im.layers]) await pullSmallBlob(base, im.repo, b);
              latencies.push(performance.now() - t0);
            }
          }),
        );
      // Warm-up, as before the small requests: the same clients push and pull a few images of their
      // own first (unmeasured), so that neither registry is timed on its first requests of this kind.
      const warmup = makeImages('warmup', P.imgWarmupPerClient);
      await pushAll(warmup, []);
      await pullAll(warmup, []);
      const total = P.imgClients * P.imgPerClient;
      // Each round pushes images of its own into repositories of its own, then the pull rounds read
      // them back, round for round.
      const batches = [];
      const timed = async (transfer, images) => {
        const latencies = [];
        await transfer(images, latencies);
        return { units: total, ...latency(latencies) };
      };
      await rounds(
        'images_push',
        (images) => timed(pushAll, images),
        (round) => {
          const images = makeImages(`many${round}`, P.imgPerClient);
          batches.push(images);
          return images;
        },
      );
      await rounds('images_pull', (images) => timed(pullAll, images), (round) => batches[round]);
      for (const id of ['images_push', 'images_pull']) out.sections[id].server_cpu_ms_per_image = (1000 * out.sections[id].server_cpu_s) / total;
    }

    // ---- 6 resources
    fig('peak_rss', mon.hwmMiB(), null, { sampled_peak_rss_mib: mon.peakRssKiB / 1024, pids: mon.pids });
    if (!SMALL) {
      fig('cpu_per_gib_pushed', pushTotal.cpu_s / (pushTotal.bytes / GiB), null);
      fig('cpu_per_gib_pulled', pullTotal.cpu_s / (pullTotal.bytes / GiB), null);
    }
  } catch (e) {
    out.valid = false;
    out.errors.push(e instanceof BenchError ? e.message : String(e?.stack ?? e));
    log(`  ${kind} ${kind}: INVALID: ${e instanceof BenchError ? e.message : e?.stack ?? e}`);
    if (srv) log(tail(srv.logFile, 10));
  } finally {
    mon?.stop();
    await lg.close();
    await pullers.close();
    if (srv) {
      if (srv.exited()) {
        out.valid = false;
        out.errors.push(`${kind} exited during the run: ${JSON.stringify(srv.exited())}`);
      }
      await srv.stop();
    }
    await bucket?.remove();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
    alternation.leave(kind);
  }
  return out;
}

function latency(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const p = (q) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((q / 100) * s.length) - 1))];
  return { p50_ms: p(50), p99_ms: p(99) };
}

// ------------------------------------------------------------------------------------------ growth case

async function growthCase() {
  const res = { small: {}, scaled: {}, valid: true, errors: [] };
  const lg = new LoadGenerator();
  try {
    for (const [which, shape] of [
      ['small', { repos: P.growthSmall.repos, bigTags: P.growthSmall.bigTags, tagsPerRepo: P.growthSmall.tagsPerRepo }],
      ['scaled', { repos: P.growth.repos, bigTags: P.growth.bigTags, tagsPerRepo: (P.growth.total - P.growth.bigTags) / (P.growth.repos - 1) }],
    ]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-bench-growth-${which}-`));
      const r = res[which];
      try {
        // Berth creates and migrates the metadata file on its first start; then it is seeded directly.
        const first = await startServer('berth', dir);
        await first.stop();
        const seeded = seed(metadataFile(first.dataDir), shape);
        r.repositories = seeded.repositories;
        r.tags = seeded.tags;
        r.seed_s = seeded.seed_s;
        r.db_mib = fs.statSync(metadataFile(first.dataDir)).size / MiB;
        log(`\n## growth ${which}: seeded ${seeded.repositories} repositories, ${seeded.tags} tags in ${seeded.seed_s.toFixed(1)} s (${r.db_mib.toFixed(0)} MiB)`);
        const startups = [];
        let srv;
        for (let i = 0; i < P.startups; i++) {
          srv = await startServer('berth', dir);
          startups.push(srv.startupMs);
          if (i < P.startups - 1) await srv.stop();
        }
        r.startup_ms_all = startups;
        r.startup_ms = [...startups].sort((a, b) => a - b)[Math.floor(startups.length / 2)];
        try {
          const mid = Math.floor(shape.repos / 2);
          const last = repoName(mid);
          const expectedRepos = Array.from({ length: Math.min(100, shape.repos - 2 - mid) }, (_, k) => repoName(mid + 1 + k));
          const catalogPath = `/v2/_catalog?n=100&last=${encodeURIComponent(last)}`;
          const cat = await request(srv.base, 'GET', catalogPath);
          const catJson = cat.status === 200 ? JSON.parse(cat.body.toString('utf8')) : null;
          if (!catJson || JSON.stringify(catJson.repositories) !== JSON.stringify(expectedRepos)) {
            throw new BenchError(`GET ${catalogPath}: ${cat.status} ${cat.body.toString('utf8', 0, 200)}`);
          }
          const tagsPath = `/v2/${BIG_REPO}/tags/list?n=100`;
          const midTag = tagName(Math.floor(shape.bigTags / 2));
          const tagsMidPath = `/v2/${BIG_REPO}/tags/list?n=100&last=${midTag}`;
          const tagChecks = [
            [tagsPath, Array.from({ length: 100 }, (_, k) => tagName(k))],
            [tagsMidPath, Array.from({ length: 100 }, (_, k) => tagName(Math.floor(shape.bigTags / 2) + 1 + k))],
          ];
          const tagBodies = [];
          for (const [p, want] of tagChecks) {
            const t = await request(srv.base, 'GET', p);
            const j = t.status === 200 ? JSON.parse(t.body.toString('utf8')) : null;
            if (!j || JSON.stringify(j.tags) !== JSON.stringify(want)) throw new BenchError(`GET ${p}: ${t.status} ${t.body.toString('utf8', 0, 200)}`);
            tagBodies.push(t.body);
          }
          const m = seeded.manifest;
          const manifestPath = `/v2/${repoName(mid)}/manifests/${tagName(3)}`;
          await getManifest(srv.base, repoName(mid), tagName(3), { body: m.payload, digest: m.digest });
          const common = { host: '127.0.0.1', port: srv.port };
          const specs = {
            catalog_page: { ...common, method: 'GET', path: catalogPath, expect: { status: 200, body: cat.body } },
            tags_page: { ...common, method: 'GET', path: tagsPath, expect: { status: 200, body: tagBodies[0] } },
            tags_page_middle: { ...common, method: 'GET', path: tagsMidPath, expect: { status: 200, body: tagBodies[1] } },
            manifest_tag: { ...common, method: 'GET', path: manifestPath, accept: OCI_MANIFEST, expect: { status: 200, body: m.payload, digest: m.digest } },
          };
          r.paths = Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, v.path]));
          for (const [name, spec] of Object.entries(specs)) {
            await lg.run(spec, { concurrency: 1, durationMs: P.warmupMs });
            const mon = new ServerMonitor(srv.pid);
            const s = startSection(mon);
            const l = await lg.run(spec, { concurrency: 1, durationMs: P.growthMs });
            const sec = s.end();
            mon.stop();
            if (l.bad) {
              res.valid = false;
              res.errors.push(`growth ${which} ${name}: ${l.errors.join('; ')}`);
            }
            r[name] = { rps: l.bad ? null : l.rps, p50_ms: l.p50_ms, p99_ms: l.p99_ms, requests: l.requests, other_pct: sec.other_pct, server_pct: sec.server_pct, client_pct: sec.client_pct };
            log(`  ${name}: ${l.rps.toFixed(0)} req/s, p50 ${l.p50_ms.toFixed(3)} ms, p99 ${l.p99_ms.toFixed(3)} ms`);
          }
          log(`  start-up to first 200 on /v2/: ${startups.map((x) => x.toFixed(0)).join(', ')} ms`);
        } finally {
          await srv.stop();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } catch (e) {
    res.valid = false;
    res.errors.push(e instanceof BenchError ? e.message : String(e?.stack ?? e));
    log(`  growth: INVALID: ${e?.message ?? e}`);
  } finally {
    await lg.close();
  }
  return res;
}

// ------------------------------------------------------------------------------------------ tables

const FIGURES = [
  // id, label, unit, higher is better
  ['startup', 'start-up to first 200 on /v2/ (empty)', 'ms', false],
  ...P.monoSizes.map((s) => [`push_mono_${sizeName(s)}`, `push monolithic ${sizeName(s)} x${countFor(s)}`, 'MiB/s', true]),
  ['push_chunked', `push chunked ${sizeName(P.chunkedSize)} (${sizeName(P.chunk)} PATCHes)`, 'MiB/s', true],
  ...P.monoSizes.map((s) => [`pull_mono_${sizeName(s)}`, `pull monolithic ${sizeName(s)} x${countFor(s)} (client sha256)`, 'MiB/s', true]),
  ['pull_chunked', `pull chunked ${sizeName(P.chunkedSize)}`, 'MiB/s', true],
  ['pull_parallel', `pull ${sizeName(P.parallelPullSize)} x${countFor(P.parallelPullSize)} x${P.parallelPullPasses} passes in parallel (${P.pullThreads} client threads, each sha256)`, 'MiB/s', true],
  ...['manifest_tag', 'manifest_digest', 'head_blob', 'tags_list'].flatMap((n) =>
    [1, 64].flatMap((c) => [
      [`${n}_c${c}`, `${{ manifest_tag: 'GET manifest by tag', manifest_digest: 'GET manifest by digest', head_blob: 'HEAD blob', tags_list: 'GET tags/list (20 tags)' }[n]} c=${c}`, 'req/s', true],
      [`${n}_c${c}.p50_ms`, '  ↳ p50', 'ms', false],
      [`${n}_c${c}.p99_ms`, '  ↳ p99', 'ms', false],
    ]),
  ),
  ['images_push', `many images push (${P.imgClients} clients x ${P.imgPerClient} images, 3 layers 4-64KiB)`, 'images/s', true],
  ['images_push.p50_ms', '  ↳ per-image p50', 'ms', false],
  ['images_push.p99_ms', '  ↳ per-image p99', 'ms', false],
  ['images_pull', 'many images pull (same images)', 'images/s', true],
  ['images_pull.p50_ms', '  ↳ per-image p50', 'ms', false],
  ['images_pull.p99_ms', '  ↳ per-image p99', 'ms', false],
  ['peak_rss', 'server peak RSS (VmHWM, process tree)', 'MiB', false],
  ['cpu_per_gib_pushed', 'server CPU per GiB pushed (mono+chunked)', 'CPU-s/GiB', false],
  ['cpu_per_gib_pulled', 'server CPU per GiB pulled', 'CPU-s/GiB', false],
];

function figureValue(res, id) {
  if (!res) return { value: null };
  const [base, sub] = id.split('.');
  const f = res.figures[base];
  if (!f) return { value: null };
  return { value: sub ? (f.value === null ? null : f[sub]) : f.value, other: sub ? null : f.other_pct };
}

const fmt = (x) => {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1000) return String(Math.round(x));
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  return x.toFixed(3);
};

/**
 * One Berth variant against others that ran (the references, or another Berth variant): value
 * columns, then one advantage column per other registry.
 */
function mainTable(berth, refs) {
  const rows = [];
  const names = Object.fromEntries(Object.entries(refs).map(([k, r]) => [k, r?.label ?? k]));
  const me = berth.label ?? 'Berth';
  const present = Object.keys(refs).filter((k) => refs[k]);
  const lines = [
    `| figure | unit | ${me} | ${present.map((k) => names[k]).join(' | ')} | ${present.map((k) => `${me} advantage vs ${names[k]} (×, >1 = ${me} better)`).join(' | ')} | other CPU % (${me}${present.map((k) => ` / ${names[k]}`).join('')} runs) |`,
    `| --- | --- | ---: | ${present.map(() => '---:').join(' | ')} | ${present.map(() => '---:').join(' | ')} | ---: |`,
  ];
  for (const [id, label, unit, higher] of FIGURES) {
    const b = figureValue(berth, id);
    if (b.value === null && present.every((k) => figureValue(refs[k], id).value === null)) continue;
    const row = { id, label, unit, higher_is_better: higher, berth: b.value, other_pct_berth: b.other ?? null };
    const advs = [];
    const others = [b.other];
    const vals = [];
    for (const k of present) {
      const r = figureValue(refs[k], id);
      let adv = null;
      if (b.value > 0 && r.value > 0) adv = higher ? b.value / r.value : r.value / b.value;
      row[k] = r.value;
      row[`berth_over_${k}`] = b.value && r.value ? b.value / r.value : null;
      row[`berth_advantage_${k}`] = adv;
      row[`other_pct_${k}`] = r.other ?? null;
      vals.push(fmt(r.value));
      advs.push(adv === null ? 'n/a' : `${adv.toFixed(2)}×`);
      others.push(r.other);
    }
    // Kept under their old names for readers of earlier results: the 2.8 reference.
    row.reference = row.reference ?? null;
    row.berth_advantage = row.berth_advantage_reference ?? null;
    rows.push(row);
    const o = (x) => (x === null || x === undefined ? '' : x.toFixed(0));
    lines.push(`| ${label} | ${unit}${higher ? ' ↑' : ' ↓'} | ${fmt(b.value)} | ${vals.join(' | ')} | ${advs.join(' | ')} | ${others.map(o).join(' / ')} |`);
  }
  return { text: lines.join('\n'), rows };
}

function growthTable(g) {
  const lines = [
    `| growth figure (Berth) | unit | small (${g.small.repositories ?? '?'} repos, ${g.small.tags ?? '?'} tags) | scaled (${g.scaled.repositories ?? '?'} repos, ${g.scaled.tags ?? '?'} tags) | cost ratio scaled/small | within 2×? | other CPU % (small / scaled) |`,
    '| --- | --- | ---: | ---: | ---: | --- | ---: |',
  ];
  const rows = [];
  const add = (label, unit, a, b, lowerBetter, other = '') => {
    const ratio = a > 0 && b > 0 ? (lowerBetter ? b / a : a / b) : null;
    rows.push({ label, unit, small: a ?? null, scaled: b ?? null, slowdown: ratio });
    lines.push(`| ${label} | ${unit} | ${fmt(a)} | ${fmt(b)} | ${ratio === null ? 'n/a' : `${ratio.toFixed(2)}×`} | ${ratio === null ? 'n/a' : ratio <= 2 ? 'yes' : '**NO**'} | ${other} |`);
  };
  add('start-up to first 200 on /v2/ (median of 3)', 'ms', g.small.startup_ms, g.scaled.startup_ms, true);
  for (const [k, label] of [
    ['catalog_page', 'catalog page n=100, last=<middle repo> (c=1)'],
    ['tags_page', 'tags page n=100, repo with most tags (c=1)'],
    ['tags_page_middle', 'tags page n=100, last=<middle tag> (c=1)'],
    ['manifest_tag', 'GET manifest by tag (c=1)'],
  ]) {
    const o = (x) => (x === undefined || x === null ? '?' : x.toFixed(0));
    add(label, 'req/s', g.small[k]?.rps, g.scaled[k]?.rps, false, `${o(g.small[k]?.other_pct)} / ${o(g.scaled[k]?.other_pct)}`);
    add('  ↳ p50', 'ms', g.small[k]?.p50_ms, g.scaled[k]?.p50_ms, true);
  }
  lines.push(`\nSeeding: ${g.scaled.tags ?? '?'} tags in ${fmt(g.scaled.seed_s)} s (one transaction); metadata file ${fmt(g.scaled.db_mib)} MiB. Cost ratio = scaled/small for times, small/scaled for rates: 1 = no slower with the big store; the requirement is ≤ 2.`);
  return { text: lines.join('\n'), rows };
}

// ------------------------------------------------------------------------------------------ main

if (!fs.existsSync(BERTH_MAIN)) {
  console.error(`${BERTH_MAIN} is missing: run \`npm run build\` first (npm run bench does).`);
  process.exit(1);
}
const regs = opt['growth-only'] ? [] : selected;
const kinds = regs.map((r) => r.name);
if (!opt['growth-only'] && !wanted && !V3.path) log(`# distribution v3 is left out: ${V3.why} (bench/README.md says how to build it)`);
if (!opt['growth-only'] && !wanted && STORAGE === 's3') log('# distribution 2.8 is left out on S3 (--only reference,... runs it)');
const result = {
  bench: 'berth bench/bench.mjs',
  date: new Date().toISOString(),
  quick: Q,
  params: P,
  host: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version, kernel: os.release(), mem_gib: Math.round(os.totalmem() / GiB) },
  git: gitDescribe(),
  berth_workers: BERTH_WORKERS ?? os.availableParallelism(),
  storage: STORAGE,
  small_only: SMALL,
  registries: regs,
  results: {},
};
function gitDescribe() {
  try {
    const head = fs.readFileSync(path.join(REPO_ROOT, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref:')) return head;
    const ref = head.slice(5);
    const f = path.join(REPO_ROOT, '.git', ref);
    return `${ref} ${fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : ''}`;
  } catch {
    return null;
  }
}

const berthKinds = regs.filter((r) => r.type === 'berth').map((r) => r.name);
if (kinds.includes('reference')) {
  ensureReference();
  result.reference_version = referenceVersion();
}
if (kinds.includes('v3')) {
  result.v3_binary = V3.path;
  result.v3_version = v3Version(V3.path);
} else result.v3_missing = V3.why;
const alternation = new Alternation(kinds);
const outcomes = await Promise.all(regs.map((r) => benchRegistry(r, alternation)));
kinds.forEach((k, i) => (result.results[k] = outcomes[i]));
agent.destroy();
const berthAsked = opt['growth-only'] || !wanted || REGISTRIES.some((r) => r.type === 'berth' && (wanted.includes(r.name) || wanted.includes('berth')));
if (!opt['no-growth'] && !SMALL && berthAsked) result.growth = await growthCase();
// Metrics cost (issue 15): Berth with metrics on and off taking turns; its own servers (bench/lib/metrics-cost.mjs).
if (!opt['no-metrics-cost'] && !opt['growth-only'] && !SMALL && berthAsked) {
  result.metrics_cost = await measureMetricsCost({ durationMs: P.durationMs, rounds: P.rounds, concurrency: 64, warmupMs: P.warmupMs, log });
}
// The pull-through cache (issue 14): Berth and v3 in proxy mode against 2.8.2 (bench/lib/proxy-cost.mjs).
if (!opt['no-proxy'] && !opt['growth-only'] && !SMALL && berthAsked && STORAGE !== 's3') {
  result.proxy = await measureProxy({ v3: V3.path, sizes: Q ? [8 * MiB] : [64 * MiB, 512 * MiB], rounds: P.rounds, concurrency: Q ? 4 : 16, upstreamMiBps: 100, log });
}

let text = `# Berth benchmark ${result.date}${Q ? ' (QUICK: smaller sizes, shorter runs; not comparable with full runs)' : ''}\n\n`;
text += `Machine: ${result.host.cpus} CPUs, ${result.host.cpu_model}, node ${result.host.node}. Storage: ${STORAGE === 's3' ? `S3 (${S3.service.endpoint}, a bucket per registry, redirect off)` : 'filesystem'}; Berth metadata: ${DBS.join(', ')}. Berth workers (http.workers): ${WORKERS.map((w) => w ?? os.availableParallelism()).join(', ')}. References: ${result.reference_version ?? 'docker-registry 2.8 not run'}; ${result.v3_version ?? `distribution v3 not run (${result.v3_missing ?? 'not asked for'})`}. Each registry runs fresh on loopback; they take turns section by section (the other is idle meanwhile); client and server share the CPUs.\n`;
text += `"other CPU %" is the CPU used by every other process on the machine during that section (100 = one core); a high value means the figure was disturbed.\n\n`;
if (kinds.length) {
  const refs = { reference: result.results.reference, v3: result.results.v3 };
  result.tables = {};
  // Each Berth variant against the references; then each further variant against the first.
  const pairs = Object.values(refs).some(Boolean) || berthKinds.length === 1 ? berthKinds.map((b) => [b, refs]) : [];
  for (const b of berthKinds.slice(1)) pairs.push([b, { [berthKinds[0]]: result.results[berthKinds[0]] }]);
  if (berthKinds.length === 0) pairs.push([kinds[0], Object.fromEntries(kinds.slice(1).map((k) => [k, result.results[k]]))]);
  for (const [b, others] of pairs) {
    const t = mainTable(result.results[b], others);
    const key = `${b}_vs_${Object.keys(others).filter((k) => others[k]).join('_') || 'none'}`;
    result.tables[key] = t.rows;
    result.table ??= t.rows;
    text += `### ${result.results[b].label}${Object.keys(others).some((k) => others[k]) ? ` against ${Object.keys(others).filter((k) => others[k]).map((k) => others[k].label).join(' and ')}` : ''}\n\n${t.text}\n\n`;
  }
  text += `↑ higher is better, ↓ lower is better. Advantage = Berth/other for ↑ figures and other/Berth for ↓ figures.\n`;
  for (const k of kinds) {
    const r = result.results[k];
    text += `\n${k}: ${r.valid ? 'valid run' : `INVALID: ${r.errors.join(' | ')}`} (machine ${r.machine_busy_before_pct}% busy before start)`;
  }
  text += '\n';
}
if (result.growth) {
  const g = growthTable(result.growth);
  result.growth_table = g.rows;
  text += `\n${g.text}\n${result.growth.valid ? '' : `\ngrowth case INVALID: ${result.growth.errors.join(' | ')}\n`}`;
}
if (result.metrics_cost) text += `\n${metricsCostTable(result.metrics_cost)}\n`;
if (result.proxy) text += `\n${proxyTable(result.proxy)}\n`;
const outFile = opt.out ?? path.join(REPO_ROOT, 'bench', 'results', `bench-${result.date.replace(/[:.]/g, '-')}.json`);
fs.mkdirSync(path.dirname(outFile), { recursive: true });
const valid = Object.values(result.results).every((r) => r.valid) && (result.growth?.valid ?? true);
result.valid = valid;
fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\n${text}\nJSON: ${outFile}`);
process.exit(valid ? 0 : 2);
