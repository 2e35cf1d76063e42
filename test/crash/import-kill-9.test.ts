// `berth import` killed with SIGKILL in the middle, three times, then run to its end: the store holds
// exactly what a clean import of the same layout holds (repositories, tags → digests, manifest bytes,
// each repository's blobs), the rerun skipped the repositories journalled before the kill, and no
// blob is recorded whose bytes are not at their key.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { parseDigest } from '../../src/registry/digest.js';
import { blobKey } from '../../src/registry/blob-keys.js';
import { LayoutWriter } from '../support/distribution-layout.js';

const REPOSITORIES = 240;
const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');

const dir = mkdtempSync(join(tmpdir(), 'berth-import-kill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFor(name: string): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${join(dir, name)} } }\n`);
  return file;
}

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
}

/** Runs `berth import`; with `killAfter`, SIGKILLs it once that many repositories are reported done. */
function runImport(layoutRoot: string, config: string, killAfter?: number): Promise<Outcome & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'import', layoutRoot, config, '--json', '--concurrency', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (killAfter === undefined || killed) return;
      for (const line of stderr.split('\n')) {
        try {
          const progress = JSON.parse(line) as { repositoriesDone?: number };
          if ((progress.repositoriesDone ?? 0) >= killAfter) {
            killed = child.kill('SIGKILL');
            return;
          }
        } catch {
          // a partial line
        }
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, killed }));
  });
}

async function snapshot(dbPath: string, dataDir: string): Promise<string[]> {
  const store = new SqliteStore({ path: dbPath });
  try {
    const lines: string[] = [];
    for (const repository of await store.listRepositories({ limit: 10_000 })) {
      for (const tag of (await store.listTags(repository, { limit: 10_000 })) ?? []) {
        const row = await store.getManifestByTag(repository, tag);
        lines.push(`${repository}:${tag} ${row?.digest ?? '-'} ${row?.payload.length ?? 0}`);
      }
    }
    // Every recorded blob's bytes are at their key, with the recorded size.
    const db = (await import('better-sqlite3')).default(dbPath, { readonly: true });
    try {
      for (const row of db.prepare('SELECT digest, size FROM blobs').all() as { digest: string; size: number }[]) {
        const key = join(dataDir, blobKey(parseDigest(row.digest)));
        assert.ok(existsSync(key) && statSync(key).size === row.size, `blob ${row.digest} recorded and at its key`);
      }
      for (const row of db.prepare('SELECT r.name, rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id ORDER BY 1, 2').all() as { name: string; digest: string }[]) {
        lines.push(`${row.name} sees ${row.digest}`);
      }
    } finally {
      db.close();
    }
    return lines.sort();
  } finally {
    await store.close();
  }
}

test('berth import killed with SIGKILL three times and rerun ends as a clean import does', { timeout: 600_000 }, async () => {
  const layout = new LayoutWriter(join(dir, 'old'));
  for (let r = 0; r < REPOSITORIES; r++) {
    const repository = `team${r % 7}/app${r}`;
    const a = layout.image(repository, [`layer ${r} a`, `shared ${r % 5}`, Buffer.alloc(96 * 1024, r)], 'v1');
    layout.image(repository, [`layer ${r} b`, `shared ${r % 5}`], 'v2');
    layout.tag(repository, 'latest', a);
  }

  const clean = await runImport(layout.root, configFor('clean'));
  assert.equal(clean.code, 0);
  const expected = await snapshot(join(dir, 'clean', 'metadata.sqlite'), join(dir, 'clean'));
  assert.equal(expected.filter((line) => line.includes(':latest ')).length, REPOSITORIES);

  const config = configFor('killed');
  let kills = 0;
  for (const after of [20, 90, 160]) {
    const run = await runImport(layout.root, config, after);
    if (run.killed) kills++;
  }
  assert.ok(kills >= 2, `import killed ${kills} times`);
  const rerun = await runImport(layout.root, config);
  assert.equal(rerun.code, 0);
  const report = JSON.parse(rerun.stdout) as { repositories: { imported: number; unchanged: number; total: number }; refusals: unknown[] };
  assert.deepEqual(report.refusals, []);
  assert.equal(report.repositories.total, REPOSITORIES);
  assert.ok(report.repositories.unchanged >= 20, `the rerun skipped ${report.repositories.unchanged} journalled repositories`);
  assert.deepEqual(await snapshot(join(dir, 'killed', 'metadata.sqlite'), join(dir, 'killed')), expected);
});
