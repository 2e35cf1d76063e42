#!/usr/bin/env node
// GC benchmark (issue 5): a registry holding KEPT blobs referenced by tagged manifests and GARBAGE
// blobs nothing references, built twice with the same content: Berth's layout (blob files + SQLite
// rows; the garbage is in the review queue, past its delay) and distribution's layout (for
// `docker-registry garbage-collect`, which needs the registry stopped). Then both collectors run,
// each measured for wall time and peak RSS (GNU time). Usage, after `npm run build`:
//   node bench/gc-bench.mjs [--kept 1000000] [--garbage 100000] [--layers 100] [--dir /tmp/gcb]
// Prints a JSON line per run and writes bench/results/gc-<time>.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const KEPT = Number(args.kept ?? 1_000_000);
const GARBAGE = Number(args.garbage ?? 100_000);
const LAYERS = Number(args.layers ?? 100);
const DIR = args.dir ?? '/tmp/berth-gc-bench';
const REPOS = 100;
const root = new URL('..', import.meta.url).pathname;

const sha = (text) => createHash('sha256').update(text).digest('hex');

function log(message) {
  process.stderr.write(`[gc-bench ${new Date().toISOString()}] ${message}\n`);
}

function build() {
  rmSync(DIR, { recursive: true, force: true });
  const berth = join(DIR, 'berth');
  const dist = join(DIR, 'distribution');
  mkdirSync(berth, { recursive: true });
  mkdirSync(dist, { recursive: true });
  const fanout = new Set();
  const blobDirBerth = (hex) => join(berth, 'blobs', 'sha256', hex.slice(0, 2));
  const distBlob = (hex) => join(dist, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex);
  const writeBlob = (hex, bytes) => {
    const prefix = hex.slice(0, 2);
    if (!fanout.has(prefix)) {
      mkdirSync(blobDirBerth(hex), { recursive: true });
      fanout.add(prefix);
    }
    writeFileSync(join(blobDirBerth(hex), hex), bytes);
    mkdirSync(distBlob(hex), { recursive: true });
    writeFileSync(join(distBlob(hex), 'data'), bytes);
  };
  const link = (path, digest) => {
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'link'), digest);
  };

  // Schema through the store itself (migrations), then bulk rows on a raw connection.
  execFileSync(process.execPath, ['-e', `import('${join(root, 'dist/src/metadata/sqlite/sqlite-store.js')}').then(async ({ SqliteStore }) => { await new SqliteStore({ path: '${join(berth, 'metadata.sqlite')}' }).close(); })`]);
  const db = new Database(join(berth, 'metadata.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const now = Date.now();
  const old = now - 48 * 3600_000;
  const insertRepo = db.prepare('INSERT INTO repositories (id, name, created_at) VALUES (?, ?, ?)');
  const insertBlob = db.prepare('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)');
  const insertLink = db.prepare('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)');
  const insertManifest = db.prepare('INSERT INTO manifests (id, digest, media_type, size, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  const insertRef = db.prepare("INSERT INTO manifest_references (manifest_id, child, kind) VALUES (?, ?, 'blob')");
  const insertRepoManifest = db.prepare('INSERT INTO repository_manifests (repository_id, manifest_id, created_at) VALUES (?, ?, ?)');
  const insertTag = db.prepare('INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)');
  const enqueue = db.prepare("INSERT INTO gc_blob_review_queue (digest, event_at, event) VALUES (?, ?, 'blob_linked')");
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const configHex = sha(config);
  const manifests = Math.ceil(KEPT / LAYERS);
  db.transaction(() => {
    for (let r = 1; r <= REPOS; r++) insertRepo.run(r, `bench/repo-${r}`, old);
    insertBlob.run(`sha256:${configHex}`, config.length, old);
    for (let r = 1; r <= REPOS; r++) insertLink.run(r, `sha256:${configHex}`, old);
  })();
  writeBlob(configHex, config);
  let layer = 0;
  log(`writing ${KEPT} kept blobs in ${manifests} manifests`);
  for (let m = 1; m <= manifests; m++) {
    const repository = ((m - 1) % REPOS) + 1;
    const layers = [];
    db.transaction(() => {
      for (let i = 0; i < LAYERS && layer < KEPT; i++, layer++) {
        const bytes = Buffer.from(`kept layer ${layer}`);
        const hex = sha(bytes);
        writeBlob(hex, bytes);
        insertBlob.run(`sha256:${hex}`, bytes.length, old);
        insertLink.run(repository, `sha256:${hex}`, old);
        layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${hex}`, size: bytes.length });
      }
      const payload = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configHex}`, size: config.length },
          layers,
        }),
      );
      const hex = sha(payload);
      insertManifest.run(m, `sha256:${hex}`, 'application/vnd.oci.image.manifest.v1+json', payload.length, payload, old);
      insertRef.run(m, `sha256:${configHex}`);
      for (const entry of layers) insertRef.run(m, entry.digest);
      insertRepoManifest.run(repository, m, old);
      insertTag.run(repository, `t${m}`, m, old);
      writeBlob(hex, payload);
      const repoDir = join(dist, 'docker/registry/v2/repositories', `bench/repo-${repository}`);
      link(join(repoDir, '_manifests/revisions/sha256', hex), `sha256:${hex}`);
      link(join(repoDir, '_manifests/tags', `t${m}`, 'current'), `sha256:${hex}`);
      link(join(repoDir, '_manifests/tags', `t${m}`, 'index/sha256', hex), `sha256:${hex}`);
      if (m <= REPOS) link(join(repoDir, '_layers/sha256', configHex), `sha256:${configHex}`);
    })();
    if (m % 1000 === 0) log(`  ${m} manifests`);
  }
  log(`writing ${GARBAGE} garbage blobs`);
  db.transaction(() => {
    for (let g = 0; g < GARBAGE; g++) {
      const bytes = Buffer.from(`garbage layer ${g}`);
      const hex = sha(bytes);
      writeBlob(hex, bytes);
      insertBlob.run(`sha256:${hex}`, bytes.length, old);
      insertLink.run((g % REPOS) + 1, `sha256:${hex}`, old);
      enqueue.run(`sha256:${hex}`, old);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  writeFileSync(
    join(DIR, 'berth.yml'),
    `version: 0.1\nlog: { level: warn }\nstorage:\n  filesystem: { rootdirectory: ${berth} }\n  delete: { enabled: true }\n`,
  );
  writeFileSync(
    join(DIR, 'distribution.yml'),
    `version: 0.1\nlog: { level: warn }\nstorage:\n  filesystem: { rootdirectory: ${dist} }\n  delete: { enabled: true }\nhttp: { addr: 127.0.0.1:0 }\n`,
  );
}

function timed(label, command, argv, env = {}) {
  log(`running ${label}`);
  const result = spawnSync('/usr/bin/time', ['-v', command, ...argv], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 30 });
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(result.stderr)?.[1] ?? '?';
  const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)?.[1] ?? NaN);
  const seconds = wall.split(':').reduce((total, part) => total * 60 + Number(part), 0);
  let tail = (result.stdout || '').trim().split('\n').slice(-1)[0] ?? '';
  try {
    const { collectedBlobs, collectedManifests, ...report } = JSON.parse(tail);
    tail = { ...report, listed: collectedBlobs.length + collectedManifests.length };
  } catch {
    // not berth's JSON report
  }
  const outcome = { label, status: result.status, seconds, peakRssMiB: Math.round(rssKb / 1024), tail };
  if (result.status !== 0) outcome.stderr = result.stderr.split('\n').slice(-15).join('\n');
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
  return outcome;
}

function countFiles(dir) {
  let count = 0;
  const walk = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(path, entry.name));
      else count++;
    }
  };
  if (existsSync(dir)) walk(dir);
  return count;
}

if (args.reuse === undefined) build();
const results = { kept: KEPT, garbage: GARBAGE, layersPerManifest: LAYERS, runs: [] };
const main = join(root, 'dist/src/cli/main.js');
// 1. Berth's online collector over its review queue (what the server does every gc.interval).
results.runs.push(timed('berth gc (queue only, gc.orphans=false)', process.execPath, [main, 'gc', join(DIR, 'berth.yml'), '--json'], { REGISTRY_GC_ORPHANS: 'false' }));
results.berthBlobFilesLeft = countFiles(join(DIR, 'berth/blobs'));
// 2. Berth again with the orphan sweep, which walks every blob file like a mark-and-sweep would.
results.runs.push(timed('berth gc (with orphan sweep over all files)', process.execPath, [main, 'gc', join(DIR, 'berth.yml'), '--json']));
// 3. distribution's offline mark-and-sweep on the same content.
results.runs.push(timed('docker-registry garbage-collect', 'docker-registry', ['garbage-collect', join(DIR, 'distribution.yml')]));
results.distributionBlobDirsLeft = readdirSync(join(DIR, 'distribution/docker/registry/v2/blobs/sha256')).reduce(
  (sum, prefix) => sum + readdirSync(join(DIR, 'distribution/docker/registry/v2/blobs/sha256', prefix)).length,
  0,
);
mkdirSync(join(root, 'bench/results'), { recursive: true });
const file = join(root, 'bench/results', `gc-${new Date().toISOString().replaceAll(':', '-')}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
log(`wrote ${file}`);
