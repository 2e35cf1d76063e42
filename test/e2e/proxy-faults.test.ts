// The pull-through cache when its upstream misbehaves. A real docker-registry 2.8.2 (htpasswd) sits
// behind a proxy the test controls (test/support/fault-proxy.ts), which counts the requests Berth
// makes and injects faults: a blob with a wrong byte, a blob cut off mid-body, 429 and 500 answers,
// and a slow link under 16 clients pulling the same cold blob.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FaultProxy } from '../support/fault-proxy.js';
import { makeClients } from './harness/clients.js';
import { loadFixtures } from './harness/fixtures.js';
import { freshShortDir, freshWorkDir } from './harness/paths.js';
import { startRegistry, type Registry } from './harness/registry-process.js';
import { FILE_TIMEOUT_MS } from './harness/suite.js';

const USER = { user: 'mirror', password: 'mirror-E2e-secret' };
const BASIC = `Basic ${Buffer.from(`${USER.user}:${USER.password}`).toString('base64')}`;
const REPO = 'team/blobs';

let work: string;
let short: string;
let upstream: Registry | undefined;
let faults: FaultProxy | undefined;
let berth: Registry | undefined;
const blobs = new Map<string, { digest: string; bytes: Buffer }>();

const sha = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const blobPath = (digest: string): string => `/v2/${REPO}/blobs/${digest}`;

async function pushBlob(name: string, size: number): Promise<void> {
  const bytes = randomBytes(size);
  const digest = sha(bytes);
  const started = await fetch(`${upstream?.url}/v2/${REPO}/blobs/uploads/`, { method: 'POST', headers: { authorization: BASIC } });
  await started.arrayBuffer();
  assert.equal(started.status, 202);
  const location = new URL(started.headers.get('location') ?? '', upstream?.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { authorization: BASIC, 'content-type': 'application/octet-stream' } });
  await put.arrayBuffer();
  assert.equal(put.status, 201);
  blobs.set(name, { digest, bytes });
}

function blob(name: string): { digest: string; bytes: Buffer } {
  const found = blobs.get(name);
  assert.ok(found);
  return found;
}

/** GET of a blob through Berth: the bytes, or the error reading them raised. */
async function pullBlob(digest: string, signal?: AbortSignal): Promise<Buffer> {
  const response = await fetch(`${berth?.url}${blobPath(digest)}`, { signal: signal ?? AbortSignal.timeout(120_000) });
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

async function errorCode(response: Response): Promise<string | undefined> {
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]?.code;
}

await describe('pull-through cache: a misbehaving upstream (2.8.2 behind a fault proxy)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    work = freshWorkDir('proxy-faults');
    short = freshShortDir();
    const htpasswd = path.join(work, 'htpasswd');
    writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', USER.user, USER.password], { encoding: 'utf8' }));
    upstream = await startRegistry(path.join(work, 'upstream'), 'reference', { auth: `{ htpasswd: { realm: upstream-e2e, path: ${htpasswd} } }` });
    await pushBlob('corrupt', 4 * 1024 * 1024);
    await pushBlob('cut', 4 * 1024 * 1024);
    await pushBlob('shared', 8 * 1024 * 1024);
    const fx = await loadFixtures();
    const clients = makeClients(work, short, upstream.host);
    await clients.skopeo(['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `${USER.user}:${USER.password}`, fx.get('oci-image').ref, `docker://${upstream.host}/team/image:v1`]);
    faults = await FaultProxy.start(upstream.url);
    berth = await startRegistry(path.join(work, 'berth'), 'berth', {
      extra: [`proxy: { remoteurl: "${faults.url}", username: ${USER.user}, password: "${USER.password}", ttl: 0s }`],
    });
    // Berth learns the upstream's Basic challenge once (a 401 and a retry); counts below start after it.
    const primed = await fetch(`${berth.url}${blobPath(blob('shared').digest)}`, { method: 'HEAD' });
    assert.equal(primed.status, 200);
  });

  after(async () => {
    await berth?.stop();
    await faults?.stop();
    await upstream?.stop();
    if (process.env.E2E_KEEP !== '1') {
      rmSync(work, { recursive: true, force: true });
      rmSync(short, { recursive: true, force: true });
    }
  });

  // Counted below: fetches (GETs the upstream answered with 200), not requests. Berth serves with
  // http.workers (one per CPU by default), and each worker learns the upstream's Basic challenge
  // once, with a 401 and a retry: that extra request fetches nothing.
  await test('bytes that do not match the digest: the client\'s transfer fails, nothing is cached, the next pull fetches again', async () => {
    assert.ok(faults);
    const { digest, bytes } = blob('corrupt');
    faults.rule = (method, p) => (method === 'GET' && p === blobPath(digest) ? { corrupt: true } : undefined);
    await assert.rejects(pullBlob(digest));
    faults.rule = () => undefined;
    assert.ok((await pullBlob(digest)).equals(bytes), 'the second pull has the upstream\'s bytes');
    assert.equal(faults.fetched('GET', blobPath(digest)), 2, 'the corrupt body was not cached');
    assert.ok((await pullBlob(digest)).equals(bytes), 'a third pull is a cache hit');
    assert.equal(faults.fetched('GET', blobPath(digest)), 2);
  });

  await test('an upstream that dies mid-blob: the client\'s transfer fails, nothing is cached', async () => {
    assert.ok(faults);
    const { digest, bytes } = blob('cut');
    faults.rule = (method, p) => (method === 'GET' && p === blobPath(digest) ? { cutAfter: 1024 * 1024 } : undefined);
    await assert.rejects(pullBlob(digest));
    faults.rule = () => undefined;
    assert.ok((await pullBlob(digest)).equals(bytes));
    assert.equal(faults.fetched('GET', blobPath(digest)), 2);
  });

  await test('nothing cached: the upstream\'s 429 is 429 TOOMANYREQUESTS with its Retry-After, a 500 is 503 UNAVAILABLE', async () => {
    assert.ok(faults);
    const tagPath = '/v2/team/image/manifests/v1';
    faults.rule = (_method, p) => (p === tagPath ? { status: 429, headers: { 'Retry-After': '7' } } : undefined);
    const limited = await fetch(`${berth?.url}${tagPath}`);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal(await errorCode(limited), 'TOOMANYREQUESTS');
    faults.rule = (_method, p) => (p === tagPath ? { status: 500 } : undefined);
    const failing = await fetch(`${berth?.url}${tagPath}`);
    assert.equal(failing.status, 503);
    assert.equal(await errorCode(failing), 'UNAVAILABLE');
  });

  await test('cached: a tag past its ttl is still served while the upstream answers 429 or 500 to the revalidating HEAD', async () => {
    assert.ok(faults);
    const tagPath = '/v2/team/image/manifests/v1';
    faults.rule = () => undefined;
    const fresh = await fetch(`${berth?.url}${tagPath}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const payload = Buffer.from(await fresh.arrayBuffer());
    assert.equal(fresh.status, 200);
    for (const status of [429, 500]) {
      faults.rule = (_method, p) => (p === tagPath ? { status } : undefined);
      const heads = faults.count('HEAD', tagPath);
      const cached = await fetch(`${berth?.url}${tagPath}`);
      assert.equal(cached.status, 200, `served from the cache while the upstream answers ${status}`);
      assert.ok(Buffer.from(await cached.arrayBuffer()).equals(payload));
      assert.equal(faults.count('HEAD', tagPath), heads + 1, 'the tag was revalidated (ttl 0s)');
    }
    faults.rule = () => undefined;
  });

  // The 17 pulls land on every worker: one holds the blob's fill lease (src/registry/proxy-service.ts)
  // and fetches, the others stream from it (same worker) or wait until it is stored (another worker).
  await test('16 clients pull one cold blob over a slow link: one upstream GET, every body whole, a client leaving aborts nothing', async () => {
    assert.ok(faults);
    const { digest, bytes } = blob('shared');
    const blobCounter = async (name: string): Promise<number> => {
      const text = await (await fetch(`${berth?.url}/metrics`)).text();
      return Number(new RegExp(`^registry_proxy_${name}_total\\{type="blob"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    const before = { hits: await blobCounter('hits'), misses: await blobCounter('misses') };
    faults.rule = (method, p) => (method === 'GET' && p === blobPath(digest) ? { trickle: { bytes: 256 * 1024, everyMs: 25 } } : undefined);
    // The one who leaves: reads the first bytes, then closes its connection.
    const leaving = new Promise<void>((resolve, reject) => {
      const req = httpGet(`${berth?.url}${blobPath(digest)}`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
    });
    const pulls = Array.from({ length: 15 }, () => pullBlob(digest));
    await leaving;
    // One more that arrives after bytes are flowing: it reads what the fill stored.
    pulls.push(pullBlob(digest));
    for (const body of await Promise.all(pulls)) assert.ok(body.equals(bytes), 'a whole, correct body');
    assert.equal(faults.fetched('GET', blobPath(digest)), 1, 'one upstream GET for 17 pulls');
    assert.equal((await blobCounter('misses')) - before.misses, 1, 'registry_proxy_misses_total: the one pull that fetched');
    assert.equal((await blobCounter('hits')) - before.hits, 16, 'registry_proxy_hits_total: the pulls that joined it or read the stored blob');
    faults.rule = () => undefined;
  });
});
