// berth import over a generated distribution layout (issue 17): REPOS repositories with TAGS tags
// each, every tag its own manifest (lib/layout-generator.mjs: blobs shared as a registry shares
// them). Measures the first pass (manifests/s), a second pass with no change (goal: under a tenth of
// the first) and, when docker-registry is installed, distribution's own `garbage-collect --dry-run`
// walk of the same layout as the yardstick. Defaults: 10,000 repositories, 10 tags each (100,000 tags).
//   nice -n 10 node bench/import-bench.mjs            REPOS=1000 TAGS=10 node bench/import-bench.mjs
// DEST=s3: the destination is S3 + PostgreSQL (a fresh bucket and database on the shared services,
// BERTH_BENCH_S3_* / BERTH_BENCH_POSTGRES_URL or the test harness's BERTH_TEST_*; blobs are then
// streamed from the filesystem into the bucket); default DEST=filesystem (filesystem + SQLite, blobs
// hard-linked). LAYOUT_DIR=<dir>: the generated layout is kept there and reused by later runs of the
// same size; the import destination is fresh each run. CONCURRENCY: berth import --concurrency.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBucket, createDatabase, postgresService, s3Service } from './lib/backends.mjs';
import { LayoutGenerator } from './lib/layout-generator.mjs';

const REPOS = Number(process.env.REPOS ?? 10_000);
const TAGS = Number(process.env.TAGS ?? 10);
const DEST = process.env.DEST ?? 'filesystem';
const CONCURRENCY = process.env.CONCURRENCY;
if (DEST !== 'filesystem' && DEST !== 's3') throw new Error(`DEST: filesystem or s3, not ${DEST}`);
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'berth-import-bench-'));
const main = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');

function time(label, command, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0 && result.status !== 3) throw new Error(`${label}: exit ${result.status}\n${result.stderr.slice(-2000)}`);
  return { ms, stdout: result.stdout };
}

const cleanups = [];
try {
  const generated = process.hrtime.bigint();
  const kept = process.env.LAYOUT_DIR === undefined ? undefined : join(process.env.LAYOUT_DIR, `layout-${REPOS}x${TAGS}`);
  const root = kept ?? join(dir, 'old');
  const reused = kept !== undefined && existsSync(join(kept, 'complete'));
  if (!reused) {
    rmSync(root, { recursive: true, force: true });
    const layout = new LayoutGenerator(root);
    for (let r = 0; r < REPOS; r++) layout.repository(`ns${r % 100}/repo${r}`, r % 100, TAGS);
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'complete'), '');
  }
  const generateMs = reused ? 0 : Number(process.hrtime.bigint() - generated) / 1e6;
  const config = join(dir, 'config.yml');
  const lines = ['version: 0.1', 'log: { level: warn }'];
  if (DEST === 's3') {
    const { service, why } = s3Service();
    const { url, why: noPostgres } = postgresService();
    if (service === null || url === null) throw new Error(`DEST=s3: ${why ?? noPostgres}`);
    const bucket = await createBucket(service, 'import');
    cleanups.push(bucket.remove);
    const database = await createDatabase(url, 'import');
    cleanups.push(database.drop);
    lines.push('storage:', ...bucket.yaml, ...database.yaml);
  } else {
    lines.push(`storage: { filesystem: { rootdirectory: ${join(dir, 'new')} } }`);
  }
  writeFileSync(config, `${lines.join('\n')}\n`);
  if (DEST === 's3') time('database migrate up', process.execPath, [main, 'database', 'migrate', 'up', config]);
  const args = [main, 'import', root, config, '--json', ...(CONCURRENCY === undefined ? [] : ['--concurrency', CONCURRENCY])];
  const first = time('first pass', process.execPath, args);
  const firstReport = JSON.parse(first.stdout);
  const second = time('second pass', process.execPath, args);
  const secondReport = JSON.parse(second.stdout);
  let gcMs;
  const registry = spawnSync('sh', ['-c', 'command -v docker-registry'], { encoding: 'utf8' });
  if (registry.status === 0) {
    const gcConfig = join(dir, 'registry.yml');
    writeFileSync(gcConfig, `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${root} } }\n`);
    gcMs = time('garbage-collect --dry-run', 'docker-registry', ['garbage-collect', '--dry-run', gcConfig]).ms;
  }
  const figures = {
    destination: DEST === 's3' ? 's3+postgresql' : 'filesystem+sqlite',
    repositories: REPOS,
    tags: REPOS * TAGS,
    generateMs: Math.round(generateMs),
    firstPassMs: Math.round(first.ms),
    manifestsPerSecond: Math.round(firstReport.manifests / (first.ms / 1000)),
    secondPassMs: Math.round(second.ms),
    secondOverFirst: Number((second.ms / first.ms).toFixed(3)),
    secondPassUnchanged: secondReport.repositories.unchanged,
    secondPassUnchangedUnread: secondReport.repositories.unchangedUnread,
    distributionGcDryRunMs: gcMs === undefined ? null : Math.round(gcMs),
    secondOverGcDryRun: gcMs === undefined ? null : Number((second.ms / gcMs).toFixed(3)),
    blobs: firstReport.blobs,
    refusals: firstReport.refusals.length,
  };
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
}
