#!/usr/bin/env node
// Web UI benchmark (issue 16): a registry with REPOS repositories and about TAGS tags (one
// repository, big/app, holds BIG of them), written straight into Berth's SQLite schema; then a
// `berth serve` process answers the UI's API calls, each timed from the client (p50, p95, max over
// RUNS after a warm-up): the first catalog page, searches (a common and a rare substring, a miss),
// the big repository's first tag page by name and by push time, and a deep page of each. With
// --browser, Debian's Chromium (playwright-core) also times the pages rendering: navigation to the
// table's rows on screen. Usage, after `npm run build`:
//   nice -n 10 node bench/ui-bench.mjs [--repos 100000] [--tags 1000000] [--big 100000] [--runs 50] [--browser] [--dir /tmp/berth-ui-bench]
// Prints JSON and writes bench/results/ui-<time>.json.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]?.startsWith('--') === false ? all[i + 1] : 'true']] : pairs), []));
const REPOS = Number(args.repos ?? 100_000);
const TAGS = Number(args.tags ?? 1_000_000);
const BIG = Number(args.big ?? 100_000);
const RUNS = Number(args.runs ?? 50);
const DIR = args.dir ?? '/tmp/berth-ui-bench';
const BROWSER = args.browser === 'true';
const root = new URL('..', import.meta.url).pathname;
const sha = (text) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const log = (message) => process.stderr.write(`[ui-bench ${new Date().toISOString()}] ${message}\n`);

async function build() {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  // The store creates the schema (every migration); the rows are then written in bulk.
  const { SqliteStore } = await import(join(root, 'dist/src/metadata/sqlite/sqlite-store.js'));
  const store = new SqliteStore({ path: join(DIR, 'metadata.sqlite') });
  await store.close();
  const db = new Database(join(DIR, 'metadata.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const now = Date.now();
  const blobs = Array.from({ length: 1000 }, (_, i) => ({ digest: sha(`blob ${i}`), size: 1000 + i * 4096 }));
  const insertBlob = db.prepare('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)');
  const insertRepo = db.prepare('INSERT INTO repositories (id, name, created_at) VALUES (?, ?, ?)');
  const insertLink = db.prepare('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)');
  const insertManifest = db.prepare('INSERT INTO manifests (id, digest, media_type, size, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  const insertReference = db.prepare("INSERT INTO manifest_references (manifest_id, child, kind) VALUES (?, ?, 'blob')");
  const insertRepoManifest = db.prepare('INSERT INTO repository_manifests (repository_id, manifest_id, created_at) VALUES (?, ?, ?)');
  const insertTag = db.prepare('INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)');
  const perRepo = Math.max(1, Math.floor((TAGS - BIG) / (REPOS - 1)));
  let tags = 0;
  db.transaction(() => {
    for (const blob of blobs) insertBlob.run(blob.digest, blob.size, now);
    for (let id = 1; id <= REPOS; id++) {
      const name = id === 1 ? 'big/app' : `ns${String(id % 1000).padStart(3, '0')}/service-${id}`; // as nameOf below
      insertRepo.run(id, name, now);
      const config = blobs[id % 1000];
      const layer = blobs[(id * 7) % 1000];
      insertLink.run(id, config.digest, now);
      if (layer.digest !== config.digest) insertLink.run(id, layer.digest, now);
      const payload = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: config.digest }, layers: [{ digest: layer.digest }], id }));
      insertManifest.run(id, sha(payload.toString()), 'application/vnd.oci.image.manifest.v1+json', payload.length, payload, now);
      insertReference.run(id, config.digest);
      if (layer.digest !== config.digest) insertReference.run(id, layer.digest);
      insertRepoManifest.run(id, id, now);
      const count = id === 1 ? BIG : perRepo;
      for (let t = 0; t < count; t++) insertTag.run(id, `v${t}`, id, now - ((id * 7919 + t * 104729) % 86_400_000));
      tags += count;
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return tags;
}

async function startServer() {
  const port = 20000 + Math.floor(Math.random() * 30000);
  const config = join(DIR, 'config.yml');
  writeFileSync(
    config,
    ['version: 0.1', 'log: { level: warn, accesslog: { disabled: true } }', `http: { addr: 127.0.0.1:${port} }`, `storage: { filesystem: { rootdirectory: ${DIR} } }`, 'gc: { enabled: false }', ''].join('\n'),
  );
  const child = spawn(process.execPath, [join(root, 'dist/src/cli/main.js'), 'serve', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error('berth did not become ready');
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: +at(0.5).toFixed(2), p95: +at(0.95).toFixed(2), max: +sorted[sorted.length - 1].toFixed(2) };
}

async function time(url, path) {
  const samples = [];
  let bytes = 0;
  for (let i = 0; i < RUNS + 5; i++) {
    const started = performance.now();
    const response = await fetch(url + path);
    const body = await response.arrayBuffer();
    const ms = performance.now() - started;
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    bytes = body.byteLength;
    if (i >= 5) samples.push(ms);
  }
  return { path, bytes, ...stats(samples) };
}

async function browserTimings(url) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pages = [
    ['catalog', '#/', 'tbody tr'],
    ['search', `#/?q=service-${REPOS - 1}`, 'tbody tr'],
    ['tags of big/app', '#/r/big/app', 'tbody tr'],
  ];
  const results = [];
  for (const [label, hash, selector] of pages) {
    const samples = [];
    for (let i = 0; i < 6; i++) {
      await page.goto('about:blank');
      const started = performance.now();
      await page.goto(`${url}/ui/${hash}`);
      await page.locator(selector).first().waitFor();
      const ms = performance.now() - started;
      if (i > 0) samples.push(ms);
    }
    // The page's own clock (its time origin is the navigation start), read just after the rows appeared in the last run.
    const inPage = await page.evaluate(() => performance.now());
    results.push({ page: label, ...stats(samples), inPageMsAtRows: +inPage.toFixed(1) });
  }
  await browser.close();
  return results;
}

const started = Date.now();
log(`building ${REPOS} repositories, ~${TAGS} tags (big/app: ${BIG}) in ${DIR}`);
const tags = await build();
log(`built ${tags} tags in ${((Date.now() - started) / 1000).toFixed(1)} s`);
const { url, child } = await startServer();
try {
  const nameOf = (id) => `ns${String(id % 1000).padStart(3, '0')}/service-${id}`;
  const mid = nameOf(Math.floor(REPOS / 2));
  const some = nameOf(Math.floor(REPOS * 0.6));
  const api = [];
  for (const path of [
    '/v2/_berth/browse/repositories?n=50',
    '/v2/_catalog?n=50',
    `/v2/_berth/browse/repositories?n=50&last=${encodeURIComponent(mid)}`,
    '/v2/_berth/browse/repositories?n=50&q=service-9',
    '/v2/_berth/browse/repositories?n=50&q=service-99999',
    '/v2/_berth/browse/repositories?n=50&q=no-such-name',
    '/v2/_berth/browse/repositories/big/app/tags?n=50',
    '/v2/_berth/browse/repositories/big/app/tags?n=50&sort=pushed',
    `/v2/_berth/browse/repositories/big/app/tags?n=50&last=v${Math.floor(BIG * 0.7)}`,
    `/v2/_berth/browse/repositories/${some}/tags?n=50&sort=pushed`,
    '/v2/big/app/tags/list?n=50',
    '/v2/_berth/browse/namespaces?n=50',
    '/v2/_berth/browse/namespaces?n=50&prefix=ns001',
  ]) {
    api.push(await time(url, path));
    log(JSON.stringify(api[api.length - 1]));
  }
  const browser = BROWSER ? await browserTimings(url) : undefined;
  const result = { at: new Date().toISOString(), repos: REPOS, tags, big: BIG, runs: RUNS, api, ...(browser === undefined ? {} : { browser }) };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, `bench/results/ui-${result.at.replaceAll(':', '-')}.json`), JSON.stringify(result, null, 2));
} finally {
  child.kill('SIGINT');
}
