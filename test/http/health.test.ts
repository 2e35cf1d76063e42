// Liveness (/healthz), readiness (/readyz), distribution's health.storagedriver check and the
// SIGTERM drain in which /readyz answers 503 before connections close.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { assertError } from '../support/error-envelope.js';
import { freePort, startRegistryProcess } from '../support/registry-process.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

interface Report {
  status: string;
  checks: Record<string, string>;
}

const readyz = async (url: string): Promise<{ status: number; body: Report }> => {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as Report };
};

/** Replaces the storage root with a symlink to itself: every storage call fails with ELOOP. */
function breakStorage(root: string): () => void {
  renameSync(root, `${root}.away`);
  symlinkSync(root, root);
  return () => {
    unlinkSync(root);
    renameSync(`${root}.away`, root);
  };
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('health endpoints', () => {
  let registry: TestRegistry;
  let dataDir: string;
  let debugUrl: string;
  before(async () => {
    const port = await freePort();
    const parent = mkdtempSync(join(tmpdir(), 'berth-health-'));
    dataDir = join(parent, 'data');
    registry = await startTestRegistry({ dataDir, env: { REGISTRY_HTTP_DEBUG_ADDR: `127.0.0.1:${port}` } });
    debugUrl = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await registry.stop();
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('GET /healthz → 200 while the process answers; GET /readyz → 200 with every check ok', async () => {
    const live = await fetch(`${registry.url}/healthz`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { status: 'ok' });
    const ready = await readyz(registry.url);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { metadata: 'ok', migrations: 'ok', storage: 'ok', draining: 'ok' });
  });

  it('both answer on the debug address too', async () => {
    assert.equal((await fetch(`${debugUrl}/healthz`)).status, 200);
    assert.equal((await readyz(debugUrl)).status, 200);
  });

  it('POST /readyz → 405 UNSUPPORTED', async () => {
    await assertError(await fetch(`${registry.url}/readyz`, { method: 'POST' }), 405, 'UNSUPPORTED');
  });

  it('storage that fails: /readyz → 503 naming storage, /healthz stays 200; back to 200 once it answers', async () => {
    const restore = breakStorage(dataDir);
    try {
      const ready = await readyz(registry.url);
      assert.equal(ready.status, 503);
      assert.notEqual(ready.body.checks.storage, 'ok');
      assert.equal(ready.body.checks.metadata, 'ok');
      assert.equal((await fetch(`${registry.url}/healthz`)).status, 200);
    } finally {
      restore();
    }
    assert.equal((await readyz(registry.url)).status, 200);
  });

  it('a schema newer than this code knows: /readyz → 503 naming the migrations', async () => {
    const db = new Database(join(dataDir, 'metadata.sqlite'));
    const version = db.pragma('user_version', { simple: true }) as number;
    db.pragma(`user_version = ${version + 1}`);
    try {
      const ready = await readyz(registry.url);
      assert.equal(ready.status, 503);
      assert.notEqual(ready.body.checks.migrations, 'ok');
    } finally {
      db.pragma(`user_version = ${version}`);
      db.close();
    }
  });
});

describe('health.storagedriver: a background check with a threshold', () => {
  let registry: TestRegistry;
  let dataDir: string;
  before(async () => {
    dataDir = join(mkdtempSync(join(tmpdir(), 'berth-health-check-')), 'data');
    registry = await startTestRegistry({
      dataDir,
      env: { REGISTRY_HEALTH_STORAGEDRIVER_ENABLED: 'true', REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL: '50ms', REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD: '3' },
    });
  });
  after(async () => {
    await registry.stop();
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('readiness fails only after `threshold` consecutive failed checks, and recovers with the next good one', async () => {
    assert.equal((await readyz(registry.url)).status, 200);
    const restore = breakStorage(dataDir);
    let failedChecks = 0;
    try {
      await eventually('/readyz 503', async () => (await readyz(registry.url)).status === 503);
      const text = await (await fetch(`${registry.url}/metrics`)).text();
      failedChecks = Number(/^berth_storage_health_check_failures_total (\d+)$/m.exec(text)?.[1]);
      assert.equal((await fetch(`${registry.url}/healthz`)).status, 200);
    } finally {
      restore();
    }
    assert.ok(failedChecks >= 3, `${failedChecks} failed checks before readiness failed`);
    await eventually('/readyz 200 again', async () => (await readyz(registry.url)).status === 200);
  });
});

describe('draining', () => {
  it('app.drain: /readyz → 503 draining for the delay while /v2/ still answers 200, then the server closes', async () => {
    const registry = await startTestRegistry({ storage: 'inmemory' });
    const drained = registry.app.drain(400);
    const ready = await readyz(registry.url);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.draining, 'draining');
    assert.equal((await fetch(`${registry.url}/v2/`)).status, 200);
    await drained;
    await assert.rejects(fetch(`${registry.url}/v2/`));
  });

  it('SIGTERM to berth serve with http.draindelay: /readyz → 503 first, requests still served, then the process exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-drain-'));
    try {
      const server = await startRegistryProcess(dir, await freePort(), { REGISTRY_HTTP_DRAINDELAY: '1s' });
      const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
      server.child.kill('SIGTERM');
      await eventually('/readyz 503 after SIGTERM', async () => (await readyz(server.url)).status === 503);
      assert.equal((await fetch(`${server.url}/v2/`)).status, 200);
      assert.equal(await exited, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
