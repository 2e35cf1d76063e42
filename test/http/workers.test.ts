// `berth serve --workers 2`: two processes on one port. Each test pins two keep-alive connections
// to two different workers (a test-only header names the pid that answered, checked on every
// response), then does one half of an operation through each.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WORKER_PID_HEADER, WORKER_PID_HEADER_ENV } from '../../src/cli/workers.js';
import { htpasswdLine } from '../support/auth.js';
import { freePort } from '../support/registry-process.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const HEADER = WORKER_PID_HEADER.toLowerCase();
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly pid: number;
}

interface Pinned {
  readonly agent: http.Agent;
  readonly pid: number;
}

function send(url: string, agent: http.Agent, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // Locations are absolute by default (http.relativeurls: false): a path or a whole URL.
    const req = http.request(new URL(path, url), { method, agent, headers: body === undefined ? headers : { 'content-length': String(body.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), pid: Number(res.headers[HEADER]) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A request that hangs fails the test (or is retried by a poll) instead of stalling it.
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.end(body);
  });
}

/** Through one pinned connection; fails when another worker answered. */
async function via(url: string, w: Pinned, method: string, path: string, headers?: Record<string, string>, body?: Buffer): Promise<Reply> {
  const r = await send(url, w.agent, method, path, headers, body);
  assert.equal(r.pid, w.pid, `${method} ${path} was answered by worker ${r.pid}, not ${w.pid}`);
  return r;
}

/** Two keep-alive connections held by two different workers. */
async function twoWorkers(url: string, exclude: ReadonlySet<number> = new Set()): Promise<[Pinned, Pinned]> {
  const found: Pinned[] = [];
  // A worker may still be starting (seconds on a loaded machine): keep connecting until a deadline.
  const deadline = Date.now() + 60_000;
  for (let i = 0; found.length < 2 && (i < 60 || Date.now() < deadline); i++) {
    if (i >= 60) await new Promise((resolve) => setTimeout(resolve, 50));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const r = await send(url, agent, 'GET', '/v2/');
    if (Number.isInteger(r.pid) && r.pid > 0 && !exclude.has(r.pid) && !found.some((f) => f.pid === r.pid)) found.push({ agent, pid: r.pid });
    else agent.destroy();
  }
  assert.equal(found.length, 2, 'two different workers answered');
  return found as [Pinned, Pinned];
}

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  readonly dir: string;
}

async function startWorkers(env: Record<string, string> = {}): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-workers-'));
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, 'serve', '--workers', '2'], {
    env: {
      ...process.env,
      REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`,
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'data'),
      REGISTRY_STORAGE_DELETE_ENABLED: 'true',
      REGISTRY_LOG_LEVEL: 'warn',
      [WORKER_PID_HEADER_ENV]: '1',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    assert.equal(child.exitCode, null, 'berth exited during start-up');
    const status = await fetch(`${url}/v2/`).then((r) => r.status, () => 0);
    if (status === 200 || status === 401) break;
    assert.ok(Date.now() < deadline, 'berth answered /v2/ within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, child, dir };
}

async function stopWorkers(server: Server): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await exited;
  }
  rmSync(server.dir, { recursive: true, force: true });
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(url: string, w: Pinned, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const r = await via(url, w, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { 'content-type': 'application/octet-stream' }, bytes);
  assert.equal(r.status, 201);
  return digest;
}

function manifestOf(config: Buffer, layer: Buffer, note: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
      annotations: { note },
    }),
  );
}

describe('several workers on one port (http.workers)', () => {
  let server: Server;
  before(async () => {
    server = await startWorkers();
  });
  after(async () => {
    await stopWorkers(server);
  });

  it('a tag moved through one worker is what another worker serves (manifest by tag, tags/list)', async () => {
    const [a, b] = await twoWorkers(server.url);
    const repo = 'workers/tags';
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(2048);
    await pushBlob(server.url, a, repo, config);
    await pushBlob(server.url, a, repo, layer);
    const first = manifestOf(config, layer, 'first');
    const second = manifestOf(config, layer, 'second');
    assert.equal((await via(server.url, a, 'PUT', `/v2/${repo}/manifests/latest`, { 'content-type': OCI_MANIFEST }, first)).status, 201);
    // B reads (and may cache) the first state.
    const before1 = await via(server.url, b, 'GET', `/v2/${repo}/manifests/latest`, { accept: OCI_MANIFEST });
    assert.equal(before1.headers['docker-content-digest'], sha256(first));
    const tags1 = await via(server.url, b, 'GET', `/v2/${repo}/tags/list`);
    assert.deepEqual((JSON.parse(tags1.body.toString()) as { tags: string[] }).tags, ['latest']);
    // A reads (and may cache) it too, by tag and by digest.
    assert.equal((await via(server.url, a, 'GET', `/v2/${repo}/manifests/latest`, { accept: OCI_MANIFEST })).headers['docker-content-digest'], sha256(first));
    assert.equal((await via(server.url, a, 'GET', `/v2/${repo}/manifests/${sha256(first)}`, { accept: OCI_MANIFEST })).status, 200);
    // A moves the tag and adds one; A itself serves the new state at once.
    assert.equal((await via(server.url, a, 'PUT', `/v2/${repo}/manifests/latest`, { 'content-type': OCI_MANIFEST }, second)).status, 201);
    assert.equal((await via(server.url, a, 'GET', `/v2/${repo}/manifests/latest`, { accept: OCI_MANIFEST })).headers['docker-content-digest'], sha256(second));
    assert.equal((await via(server.url, a, 'PUT', `/v2/${repo}/manifests/v2`, { 'content-type': OCI_MANIFEST }, second)).status, 201);
    const after1 = await via(server.url, b, 'GET', `/v2/${repo}/manifests/latest`, { accept: OCI_MANIFEST });
    assert.equal(after1.status, 200);
    assert.equal(after1.headers['docker-content-digest'], sha256(second));
    assert.deepEqual(after1.body, second);
    const tags2 = await via(server.url, b, 'GET', `/v2/${repo}/tags/list`);
    assert.deepEqual((JSON.parse(tags2.body.toString()) as { tags: string[] }).tags, ['latest', 'v2']);
    // And a deletion through B is seen by A.
    assert.equal((await via(server.url, b, 'DELETE', `/v2/${repo}/manifests/${sha256(first)}`)).status, 202);
    assert.equal((await via(server.url, a, 'GET', `/v2/${repo}/manifests/${sha256(first)}`, { accept: OCI_MANIFEST })).status, 404);
    // A blob that A has answered HEAD for, deleted through B, then through A itself.
    for (const [deleter, label] of [[b, 'the other worker'], [a, 'the same worker']] as const) {
      const extra = await pushBlob(server.url, a, repo, randomBytes(1024));
      assert.equal((await via(server.url, a, 'HEAD', `/v2/${repo}/blobs/${extra}`)).status, 200);
      assert.equal((await via(server.url, deleter, 'DELETE', `/v2/${repo}/blobs/${extra}`)).status, 202);
      assert.equal((await via(server.url, a, 'HEAD', `/v2/${repo}/blobs/${extra}`)).status, 404, `deleted through ${label}`);
    }
    a.agent.destroy();
    b.agent.destroy();
  });

  it('an upload started on one worker is continued and completed on the other', async () => {
    const [a, b] = await twoWorkers(server.url);
    const repo = 'workers/uploads';
    const blob = randomBytes(300_000);
    const parts = [blob.subarray(0, 100_000), blob.subarray(100_000, 200_000), blob.subarray(200_000)];
    const start = await via(server.url, a, 'POST', `/v2/${repo}/blobs/uploads/`);
    assert.equal(start.status, 202);
    let location = String(start.headers.location);
    let offset = 0;
    for (const [i, part] of parts.slice(0, 2).entries()) {
      const w = i % 2 === 0 ? b : a;
      const r = await via(server.url, w, 'PATCH', location, { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + part.length - 1}` }, part);
      assert.equal(r.status, 202);
      offset += part.length;
      assert.equal(r.headers.range, `0-${offset - 1}`);
      location = String(r.headers.location);
    }
    const status = await via(server.url, b, 'GET', location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, `0-${offset - 1}`);
    const last = parts[2] ?? Buffer.alloc(0);
    // The last request on A, which holds a running hash of only what it wrote itself.
    const put = await via(server.url, a, 'PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha256(blob)}`, { 'content-type': 'application/octet-stream' }, last);
    assert.equal(put.status, 201);
    const got = await via(server.url, b, 'GET', `/v2/${repo}/blobs/${sha256(blob)}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(blob));
    a.agent.destroy();
    b.agent.destroy();
  });

  it('while one worker streams a PATCH into an upload, a PATCH on the other worker is refused (BLOB_UPLOAD_INVALID); afterwards it continues', async () => {
    const [a, b] = await twoWorkers(server.url);
    const repo = 'workers/exclusive';
    const start = await via(server.url, a, 'POST', `/v2/${repo}/blobs/uploads/`);
    assert.equal(start.status, 202);
    const location = String(start.headers.location);
    const first = randomBytes(64 * 1024);
    // A streams the first half of a chunk and holds the request open.
    const slow = http.request(new URL(location, server.url), { method: 'PATCH', agent: a.agent, headers: { 'content-type': 'application/octet-stream', 'content-length': String(first.length) } });
    const slowReply = new Promise<Reply>((resolve, reject) => {
      slow.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), pid: Number(res.headers[HEADER]) }));
      });
      slow.on('error', reject);
    });
    slow.write(first.subarray(0, first.length / 2));
    // Wait until A's bytes reach the upload (B sees the offset move): A holds the writer lease then.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const status = await via(server.url, b, 'GET', location);
      assert.equal(status.status, 204);
      if (status.headers.range !== undefined && status.headers.range !== '0-0') break;
      assert.ok(Date.now() < deadline, "A's first bytes were stored within 20 s");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const other = randomBytes(1024);
    const refused = await via(server.url, b, 'PATCH', location, { 'content-type': 'application/octet-stream' }, other);
    assert.equal(refused.status, 400);
    assert.equal((JSON.parse(refused.body.toString()) as { errors: { code: string }[] }).errors[0]?.code, 'BLOB_UPLOAD_INVALID');
    slow.end(first.subarray(first.length / 2));
    const done = await slowReply;
    assert.equal(done.status, 202);
    assert.equal(done.pid, a.pid);
    assert.equal(done.headers.range, `0-${first.length - 1}`);
    // The lease is given back: B continues the upload.
    const next = await via(server.url, b, 'PATCH', String(done.headers.location), { 'content-type': 'application/octet-stream' }, other);
    assert.equal(next.status, 202);
    assert.equal(next.headers.range, `0-${first.length + other.length - 1}`);
    a.agent.destroy();
    b.agent.destroy();
  });

  it('one scrape of /metrics on either worker reports the sum over both; values read from the store are counted once', async () => {
    const [a, b] = await twoWorkers(server.url);
    const sample = (text: string, series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    };
    const scrape = async (w: Pinned): Promise<string> => {
      const r = await via(server.url, w, 'GET', '/metrics');
      assert.equal(r.status, 200);
      return r.body.toString();
    };
    const BASE = 'registry_http_requests_total{handler="end-1",method="get",code="2xx"}';
    const UPLOADS = 'berth_uploads_in_progress';
    const before1 = await scrape(a);
    for (let i = 0; i < 3; i++) assert.equal((await via(server.url, a, 'GET', '/v2/')).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await via(server.url, b, 'GET', '/v2/')).status, 200);
    assert.equal((await via(server.url, b, 'POST', '/v2/workers/metrics/blobs/uploads/')).status, 202);
    for (const w of [a, b]) {
      const now = await scrape(w);
      assert.equal(sample(now, BASE) - sample(before1, BASE), 7, `worker ${w.pid}: the GET /v2/ of both workers`);
      assert.equal(sample(now, UPLOADS) - sample(before1, UPLOADS), 1, `worker ${w.pid}: the one new upload, not once per worker`);
      assert.equal(sample(now, 'berth_ready'), 1);
      assert.equal(sample(now, 'berth_build_info{version="0.1.0"}'), 1);
    }
    a.agent.destroy();
    b.agent.destroy();
  });

  it('a worker that dies is replaced, and the other keeps serving meanwhile', async () => {
    const [a, b] = await twoWorkers(server.url);
    process.kill(b.pid, 'SIGKILL');
    assert.equal((await via(server.url, a, 'GET', '/v2/')).status, 200);
    b.agent.destroy();
    const deadline = Date.now() + 30_000;
    let replacement: number | undefined;
    while (replacement === undefined) {
      assert.ok(Date.now() < deadline, 'a new worker answered within 30 s');
      const agent = new http.Agent({ keepAlive: false });
      const r = await send(server.url, agent, 'GET', '/v2/').catch(() => undefined);
      agent.destroy();
      if (r !== undefined && r.status === 200 && r.pid !== a.pid && r.pid !== b.pid) replacement = r.pid;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    a.agent.destroy();
  });
});

describe('several workers: a SIGTERM during start-up', () => {
  it('workers signalled while still starting come up, drain (/readyz 503 for http.draindelay) and exit 0; no connection is reset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-workers-'));
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN, 'serve', '--workers', '2'], {
      env: { ...process.env, REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'data'), REGISTRY_LOG_LEVEL: 'info', REGISTRY_HTTP_DRAINDELAY: '2s' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const exited = once(child, 'exit');
      let output = '';
      // The supervisor has forked both workers; they are still loading (hundreds of ms), far from listening.
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('berth supervising workers')) resolve();
        });
        child.once('exit', () => reject(new Error(`berth exited before supervising:\n${output}`)));
      });
      child.kill('SIGTERM');
      const url = `http://127.0.0.1:${port}`;
      let draining = 0;
      const deadline = Date.now() + 30_000;
      while (draining === 0 && Date.now() < deadline) {
        const agent = new http.Agent({ keepAlive: false });
        try {
          // 200: a worker answered before the supervisor's signal (sent once it listens) reached it.
          const r = await send(url, agent, 'GET', '/readyz');
          if (r.status === 503) {
            assert.equal((JSON.parse(r.body.toString()) as { checks: { draining: string } }).checks.draining, 'draining');
            draining++;
          } else assert.equal(r.status, 200);
        } catch (error) {
          // Not listening yet: refused. A connection accepted and then reset is the failure.
          if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED') throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        } finally {
          agent.destroy();
        }
      }
      assert.equal(draining, 1, `a worker answered /readyz 503 draining after the SIGTERM; berth's log:\n${output}`);
      const [code, signal] = (await exited) as [number | null, string | null];
      assert.deepEqual({ code, signal }, { code: 0, signal: null });
      assert.doesNotMatch(output, /a worker died/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('several workers: failed logins', () => {
  let server: Server;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-workers-auth-'));
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `${htpasswdLine('alice', 'right')}\n`);
    server = await startWorkers({
      REGISTRY_AUTH_HTPASSWD_REALM: 'berth',
      REGISTRY_AUTH_HTPASSWD_PATH: file,
      REGISTRY_AUTH_RATELIMIT_ATTEMPTS: '4',
      REGISTRY_AUTH_RATELIMIT_DELAY: '0s',
    });
  });
  after(async () => {
    await stopWorkers(server);
  });

  it('failures counted by one worker block the client on the other → 429 TOOMANYREQUESTS', async () => {
    const [a, b] = await twoWorkers(server.url);
    const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    // B lets alice in; then A sees four wrong passwords.
    assert.equal((await via(server.url, b, 'GET', '/v2/', basic('alice', 'right'))).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await via(server.url, a, 'GET', '/v2/', basic('alice', 'wrong'))).status, 401);
    // B, which saw no failure itself, now refuses the client too (once the relay has arrived):
    // polled with the right password, which B never counts as a failure.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await via(server.url, b, 'GET', '/v2/', basic('alice', 'right'));
      if (r.status === 429) {
        assert.equal((JSON.parse(r.body.toString()) as { errors: { code: string }[] }).errors[0]?.code, 'TOOMANYREQUESTS');
        break;
      }
      assert.equal(r.status, 200);
      assert.ok(Date.now() < deadline, 'the other worker refused the client within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    a.agent.destroy();
    b.agent.destroy();
  });
});
