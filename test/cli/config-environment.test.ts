// REGISTRY_* variables that name no configuration key: `berth serve` logs a warning naming each,
// `berth config check` prints it, and a variable selecting a storage driver or a metadata database
// Berth lacks stops start-up (exit status 2) instead of serving from ./data.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'berth-env-'));

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs berth with `env` added; `untilListening` stops a server (SIGINT) once it says it listens. */
function berth(args: readonly string[], env: Record<string, string>, untilListening = false): Promise<Outcome> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...inherited, REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(root, 'data'), REGISTRY_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (untilListening && stdout.includes('berth listening')) child.kill('SIGINT');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function warnings(stdout: string): { variable?: string; msg: string; level: number }[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { variable?: string; msg: string; level: number })
    .filter((entry) => entry.level === 40);
}

describe('REGISTRY_* variables that name no key', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('serve warns, naming each variable, and starts (a typo, a Kubernetes service variable)', async () => {
    const outcome = await berth(['serve'], { REGISTRY_STORAGE_FILESYSTEM_ROOTDIR: '/elsewhere', REGISTRY_SERVICE_HOST: '10.0.0.1' }, true);
    assert.match(outcome.stdout, /berth listening/, outcome.stderr);
    const named = warnings(outcome.stdout).map((entry) => entry.variable);
    assert.deepEqual(named, ['REGISTRY_SERVICE_HOST', 'REGISTRY_STORAGE_FILESYSTEM_ROOTDIR']);
    assert.match(warnings(outcome.stdout)[1]?.msg ?? '', /REGISTRY_STORAGE_FILESYSTEM_ROOTDIR names no configuration key/);
  });

  it('serve says nothing about variables that name keys', async () => {
    const outcome = await berth(['serve'], { REGISTRY_STORAGE_DELETE_ENABLED: 'true' }, true);
    assert.match(outcome.stdout, /berth listening/, outcome.stderr);
    assert.deepEqual(warnings(outcome.stdout), []);
  });

  for (const [variable, section] of [
    ['REGISTRY_STORAGE_AZURE_ACCOUNTNAME', 'storage.azure'],
    ['REGISTRY_STORAGE_GCS_BUCKET', 'storage.gcs'],
    ['REGISTRY_METADATA_MYSQL_HOST', 'metadata.mysql'],
  ] as const) {
    it(`serve refuses to start with ${variable} (a ${section.startsWith('storage') ? 'storage driver' : 'metadata database'} Berth lacks)`, async () => {
      const outcome = await berth(['serve'], { [variable]: 'x' }, true);
      assert.equal(outcome.code, 2, outcome.stdout);
      assert.match(outcome.stderr, new RegExp(`${variable} names ${section.replace('.', '\\.')}, which Berth does not have`));
      assert.doesNotMatch(outcome.stdout, /berth listening/);
    });
  }

  it('config check prints the warning, and refuses what serve refuses', async () => {
    const file = join(root, 'config.yml');
    writeFileSync(file, 'version: 0.1\n');
    const warned = await berth(['config', 'check', file], { REGISTRY_HTTP_ADR: ':5000' });
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /warning: environment variable REGISTRY_HTTP_ADR names no configuration key/);
    const refused = await berth(['config', 'check', file], { REGISTRY_STORAGE_AZURE_ACCOUNTNAME: 'x' });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /REGISTRY_STORAGE_AZURE_ACCOUNTNAME/);
  });
});
