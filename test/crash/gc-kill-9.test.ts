// Crash safety of garbage collection: `kill -9` of the server while its collector works through a
// backlog of thousands of unreferenced blobs (and of `berth gc` likewise). After each kill every
// blob row still has its bytes, every acknowledged image pulls fully after a restart, and the next
// run finishes the job: no garbage bytes left, no deletion left unfinished.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/metadata/sqlite/sqlite-store.js';
import { pullFully } from '../support/pull.js';
import { indexOf } from '../support/content.js';
import { pushImage, pushManifest, type PushedImage } from '../support/push.js';
import { freePort, startRegistryProcess } from '../support/registry-process.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const GARBAGE_PER_ROUND = 1500;
const ROUNDS = 3;

function blobPath(dataDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return join(dataDir, 'blobs', algorithm, hex.slice(0, 2), hex);
}

/** Adds unreferenced blobs straight into the store and the disk (as if pushed and abandoned). */
async function addGarbage(dataDir: string, count: number): Promise<string[]> {
  const store = new SqliteStore({ path: join(dataDir, 'metadata.sqlite') });
  const digests: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const bytes = randomBytes(256);
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const path = blobPath(dataDir, digest);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, bytes);
      await store.linkBlob(`garbage/r${i % 10}`, { digest, size: bytes.length });
      digests.push(digest);
    }
  } finally {
    await store.close();
  }
  return digests;
}

/** The invariant: a blob row never points at missing bytes. Returns the rows without bytes. */
function rowsWithoutBytes(dataDir: string): string[] {
  const db = new Database(join(dataDir, 'metadata.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT digest FROM blobs').pluck().all() as string[]).filter((digest) => !existsSync(blobPath(dataDir, digest)));
  } finally {
    db.close();
  }
}

function unfinishedDeletions(dataDir: string): number {
  const db = new Database(join(dataDir, 'metadata.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM gc_blob_deletions WHERE finished_at IS NULL').pluck().get() as number;
  } finally {
    db.close();
  }
}

/** Polls `condition` every 2 ms; true once it holds, false after `limitMs` or once `stop()` says so. */
async function until(condition: () => boolean, limitMs: number, stop: () => boolean = () => false): Promise<boolean> {
  for (const deadline = Date.now() + limitMs; Date.now() < deadline && !stop(); await new Promise((resolve) => setTimeout(resolve, 2))) {
    if (condition()) return true;
  }
  return false;
}

/**
 * When a kill lands: after a random delay (some instant of the run), or as soon as a batch of blob
 * deletions is underway (recorded, not finished). A random delay alone can land after a fast run has
 * finished, and then the round tests nothing.
 */
type KillAt = { readonly afterMs: number } | { readonly whenDeleting: string };

async function runGcCommand(dataDir: string, kill?: KillAt): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  const child = spawn(process.execPath, [MAIN, 'gc', '--json', '--review-delay', '0s'], {
    env: { ...process.env, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dataDir, REGISTRY_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  if (kill !== undefined && 'afterMs' in kill) setTimeout(() => child.kill('SIGKILL'), kill.afterMs).unref();
  if (kill !== undefined && 'whenDeleting' in kill) {
    await until(() => unfinishedDeletions(kill.whenDeleting) > 0, 10_000, () => child.exitCode !== null || child.signalCode !== null);
    child.kill('SIGKILL');
  }
  const [code, signal] = await exited;
  return { code, signal, stdout };
}

describe('kill -9 during garbage collection', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-gc-kill-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it(`${ROUNDS} rounds: server killed mid-collection, then \`berth gc\` killed mid-run; consistent each time; the next run completes`, async () => {
    const port = await freePort();
    // Acknowledged images, pushed while GC is off.
    let server = await startRegistryProcess(dataDir, port, { REGISTRY_GC_ENABLED: 'false' });
    const kept: { repository: string; tag: string; image: PushedImage }[] = [];
    for (let i = 0; i < 4; i++) {
      const repository = `kept/app-${i}`;
      kept.push({ repository, tag: 'v1', image: await pushImage(server.url, repository, 'v1') });
    }
    // An index whose children are untagged.
    const children = [await pushImage(server.url, 'kept/multi', undefined, { label: 'a' }), await pushImage(server.url, 'kept/multi', undefined, { label: 'b' })];
    const index = indexOf(children.map((child) => child.manifest));
    await pushManifest(server.url, 'kept/multi', 'v1', index);
    await server.stop();
    const pullIndex = async (url: string): Promise<void> => assert.equal(await pullFully(url, 'kept/multi', 'v1', index.digest), undefined);

    let garbage: string[] = [];
    let interrupted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      garbage = garbage.concat(await addGarbage(dataDir, GARBAGE_PER_ROUND));
      // Round 0 kills at random instants; later rounds as soon as a batch of deletions is underway.
      const atRandom = round === 0;
      // 1. The server's background collector, killed during its run.
      server = await startRegistryProcess(dataDir, port, { REGISTRY_GC_INTERVAL: '20ms', REGISTRY_GC_REVIEWDELAY: '0s' });
      if (atRandom) await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 150)));
      else await until(() => unfinishedDeletions(dataDir) > 0, 10_000);
      await server.stop('SIGKILL');
      assert.deepEqual(rowsWithoutBytes(dataDir), [], `round ${round}: after killing the server`);
      if (process.env.BERTH_GC_VERBOSE !== undefined) {
        const left = garbage.filter((digest) => existsSync(blobPath(dataDir, digest))).length;
        process.stderr.write(`round ${round}: server killed with ${unfinishedDeletions(dataDir)} deletions unfinished, ${left} of ${garbage.length} garbage files left\n`);
      }
      if (unfinishedDeletions(dataDir) > 0 || garbage.some((digest) => existsSync(blobPath(dataDir, digest)))) interrupted++;
      // 2. `berth gc`, killed during its run.
      garbage = garbage.concat(await addGarbage(dataDir, GARBAGE_PER_ROUND / 3));
      const killed = await runGcCommand(dataDir, atRandom ? { afterMs: 150 + Math.floor(Math.random() * 200) } : { whenDeleting: dataDir });
      assert.deepEqual(rowsWithoutBytes(dataDir), [], `round ${round}: after killing berth gc (${killed.signal ?? killed.code})`);
      if (killed.signal === 'SIGKILL' && (unfinishedDeletions(dataDir) > 0 || garbage.some((digest) => existsSync(blobPath(dataDir, digest))))) interrupted++;
      // Restarted: every acknowledged image pulls fully.
      server = await startRegistryProcess(dataDir, port, { REGISTRY_GC_ENABLED: 'false' });
      for (const { repository, tag, image } of kept) assert.equal(await pullFully(server.url, repository, tag, image.manifest.digest), undefined);
      await pullIndex(server.url);
      await server.stop();
    }
    assert.ok(interrupted > 0, 'at least one kill landed while garbage was left to collect');

    // The next run completes: no garbage bytes, no unfinished deletion, kept images intact.
    const finished = await runGcCommand(dataDir);
    assert.equal(finished.code, 0);
    const report = JSON.parse(finished.stdout) as { blobs: number; resumed: number };
    assert.equal(typeof report.blobs, 'number');
    assert.equal(unfinishedDeletions(dataDir), 0);
    assert.deepEqual(garbage.filter((digest) => existsSync(blobPath(dataDir, digest))), []);
    assert.deepEqual(rowsWithoutBytes(dataDir), []);
    server = await startRegistryProcess(dataDir, port, { REGISTRY_GC_ENABLED: 'false' });
    try {
      for (const { repository, tag, image } of kept) assert.equal(await pullFully(server.url, repository, tag, image.manifest.digest), undefined);
      await pullIndex(server.url);
    } finally {
      await server.stop();
    }
  });
});
