// berth import over a generated distribution layout (issue 17): REPOS repositories with TAGS tags
// each (one manifest per tag: a config and one small layer, plus a layer shared per namespace).
// Measures the first pass (manifests/s), a second pass with no change (goal: under a tenth of the
// first) and, when docker-registry is installed, distribution's own `garbage-collect --dry-run` walk
// of the same layout as the yardstick. Defaults: 10,000 repositories, 10 tags each (100,000 tags).
//   nice -n 10 node bench/import-bench.mjs            REPOS=1000 TAGS=10 node bench/import-bench.mjs
// LAYOUT_DIR=<dir>: the generated layout is kept there and reused by later runs of the same size
// (generating 100,000 tags takes longer than importing them); the import destination is fresh each run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayoutWriter } from '../dist/test/support/distribution-layout.js';

const REPOS = Number(process.env.REPOS ?? 10_000);
const TAGS = Number(process.env.TAGS ?? 10);
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'berth-import-bench-'));
const main = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');

function time(label, command, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0 && result.status !== 3) throw new Error(`${label}: exit ${result.status}\n${result.stderr.slice(-2000)}`);
  return { ms, stdout: result.stdout };
}

try {
  const generated = process.hrtime.bigint();
  const kept = process.env.LAYOUT_DIR === undefined ? undefined : join(process.env.LAYOUT_DIR, `layout-${REPOS}x${TAGS}`);
  const layout = new LayoutWriter(kept ?? join(dir, 'old'));
  const reused = kept !== undefined && existsSync(join(kept, 'complete'));
  if (!reused) {
    if (kept !== undefined) rmSync(kept, { recursive: true, force: true });
    for (let r = 0; r < REPOS; r++) {
      const repository = `ns${r % 100}/repo${r}`;
      for (let t = 0; t < TAGS; t++) layout.image(repository, [`layer ${r}/${t}`, `shared ${r % 100}`], `v${t}`);
    }
    if (kept !== undefined) {
      mkdirSync(kept, { recursive: true });
      writeFileSync(join(kept, 'complete'), '');
    }
  }
  const generateMs = reused ? 0 : Number(process.hrtime.bigint() - generated) / 1e6;
  const config = join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${join(dir, 'new')} } }\n`);
  const first = time('first pass', process.execPath, [main, 'import', layout.root, config, '--json']);
  const firstReport = JSON.parse(first.stdout);
  const second = time('second pass', process.execPath, [main, 'import', layout.root, config, '--json']);
  const secondReport = JSON.parse(second.stdout);
  let gcMs;
  const registry = spawnSync('sh', ['-c', 'command -v docker-registry'], { encoding: 'utf8' });
  if (registry.status === 0) {
    const gcConfig = join(dir, 'registry.yml');
    writeFileSync(gcConfig, `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${layout.root} } }\n`);
    gcMs = time('garbage-collect --dry-run', 'docker-registry', ['garbage-collect', '--dry-run', gcConfig]).ms;
  }
  const figures = {
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
    blobsHardLinked: firstReport.blobs.hardLinked,
    refusals: firstReport.refusals.length,
  };
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
