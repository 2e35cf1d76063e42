// glibc malloc tuning (src/cli/malloc-tuning.ts): applied in every process of `berth serve` where it
// can be, left alone when the environment tunes malloc. Its effect (page faults, CPU per GiB) is
// measured in the bench, not asserted here.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tuneMalloc } from '../../src/cli/malloc-tuning.js';
import { freePort, startRegistryProcess } from '../support/registry-process.js';

const HELPER = fileURLToPath(new URL('../../native/malloc-tuning.node', import.meta.url));

describe('malloc tuning', () => {
  it('leaves malloc alone when the environment tunes it', () => {
    assert.equal(tuneMalloc({ MALLOC_ARENA_MAX: '2' }), 'set in the environment');
    assert.equal(tuneMalloc({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1048576' }), 'set in the environment');
    // Tunables of something else are not malloc's.
    assert.notEqual(tuneMalloc({ GLIBC_TUNABLES: 'glibc.pthread.rseq=0' }), 'set in the environment');
  });

  // CI builds the native helpers (build-native --required) on glibc: there the cases run.
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;
  const skip = !(process.platform === 'linux' && glibc && existsSync(HELPER)) && 'not glibc, or the native helpers are not built';
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** What each serving process logged of malloc as it started listening. */
  const served = async (env: Record<string, string>, processes: number): Promise<unknown[]> => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-malloc-'));
    dirs.push(dir);
    const registry = await startRegistryProcess(dir, await freePort(), { REGISTRY_HTTP_WORKERS: String(processes), REGISTRY_LOG_LEVEL: 'info', ...env }, { stdout: 'pipe' });
    let log = '';
    registry.child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const listening = (): unknown[] => log.split('\n').filter((line) => line.includes('"berth listening"')).map((line) => (JSON.parse(line) as { malloc?: unknown }).malloc);
    const deadline = Date.now() + 30_000;
    while (listening().length < processes && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await registry.stop();
    return listening();
  };

  it('tunes every serving process, one or several', { skip }, async () => {
    assert.deepEqual(await served({}, 1), ['tuned']);
    assert.deepEqual(await served({}, 2), ['tuned', 'tuned']);
  });

  it('says so when the environment tunes malloc instead', { skip }, async () => {
    assert.deepEqual(await served({ MALLOC_TRIM_THRESHOLD_: '1048576' }, 1), ['set in the environment']);
  });
});
