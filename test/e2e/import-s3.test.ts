// berth import from Debian's docker-registry 2.8.2 on its s3 driver (the shared radosgw, a bucket of
// this file's own): skopeo fills it (an OCI image, an OCI index, a Docker manifest list, a 64 MiB
// layer, an artifact with a subject and its cosign-style tag); `berth import` reads the old
// registry's own configuration file (its storage.s3 keys) into (1) Berth on S3, another bucket of
// the same endpoint, where every blob is copied server-side (the 64 MiB one with UploadPartCopy), and
// (2) Berth on a filesystem, where every blob is streamed and verified; then skopeo pulls everything
// back from each Berth and the digests, blobs and file contents are compared with the fixtures.
// (3) Through a recording proxy in front of radosgw: each blob is one server-side copy straight to
// its content-addressed key (hashed by reading the source once, never read back from Berth's bucket,
// no private key), and --no-verify reads no layer bytes at all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { s3Service } from '../support/services.js';
import { parseJson } from './harness/digests.js';
import { runOk } from './harness/exec.js';
import { digestOf, loadFixtures, type Fixtures } from './harness/fixtures.js';
import { checkImported } from './harness/import-checks.js';
import { makeClients, type Clients } from './harness/clients.js';
import { freshShortDir, freshWorkDir, repoRoot } from './harness/paths.js';
import { RegistryApi } from './harness/registry-api.js';
import { startRegistry, type Registry } from './harness/registry-process.js';
import { startS3RecordingProxy, type RecordedRequest } from './harness/s3-recording-proxy.js';
import { FILE_TIMEOUT_MS } from './harness/suite.js';

interface Report {
  source: string;
  repositories: { total: number; imported: number; unchanged: number; unchangedUnread: number; withRefusals: number };
  manifests: number;
  verified: boolean;
  blobs: { hardLinked: number; serverSideCopied: number; copied: number; bytes: number; bytesCopied: number; bytesVerified: number };
  refusals: unknown[];
}

const PUSHED: readonly [fixture: string, repository: string, tag: string][] = [
  ['oci-image', 'imps3/oci-image', 'v1'],
  ['oci-index', 'imps3/oci-index', 'v1'],
  ['docker-list', 'imps3/docker-list', 'v1'],
  ['big-layer', 'imps3/big-layer', 'v1'],
  ['artifact', 'imps3/oci-image', 'artifact'],
];

let work: string;
let short: string;
let fx: Fixtures;
let old: Registry;
let clients: Clients;
let oldApi: RegistryApi;
const running: Registry[] = [];
const suffix = randomBytes(4).toString('hex');
const oldBucket = `import-old-${suffix}`;
const newBucket = `import-new-${suffix}`;
const verifiedBucket = `import-verified-${suffix}`;
const unverifiedBucket = `import-unverified-${suffix}`;

function s3Yaml(bucket: string, rootDirectory: string, endpoint = s3Service().endpoint): string {
  const s3 = s3Service();
  return `s3: { accesskey: ${s3.accessKey}, secretkey: ${s3.secretKey}, region: ${s3.region}, regionendpoint: "${endpoint}", bucket: ${bucket}, rootdirectory: ${rootDirectory}, secure: false, forcepathstyle: true }`; // v3 needs forcepathstyle (2.8 implies it)
}

async function copy(from: string, to: string): Promise<void> {
  await clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', from, to]);
}

async function importInto(berthConfig: string, options: { readonly from?: string; readonly args?: readonly string[] } = {}): Promise<Report> {
  const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const oldConfig = options.from ?? path.join(old.dataDir, '..', 'config.yml');
  const result = await runOk(process.execPath, [main, 'import', oldConfig, berthConfig, '--json', ...(options.args ?? [])], { timeoutMs: 300_000 });
  return parseJson<Report>(Buffer.from(result.stdout));
}

/** Berth's data dir and configuration, written by a first start with the given storage. */
async function prepareBerth(name: string, storage: string | undefined): Promise<{ dir: string; config: string; start: () => Promise<Registry> }> {
  const dir = path.join(work, name);
  const extra = storage === undefined ? [] : [`metadata: { sqlite: { path: ${path.join(dir, 'metadata.sqlite')} } }`];
  const options = { ...(storage === undefined ? {} : { storage }), extra };
  const first = await startRegistry(dir, 'berth', options);
  await first.stop();
  return {
    dir,
    config: path.join(dir, 'registry', 'config.yml'),
    start: async () => {
      const registry = await startRegistry(dir, 'berth', options);
      running.push(registry);
      return registry;
    },
  };
}

async function checkAll(berth: Registry, label: string): Promise<void> {
  await checkImported({ from: oldApi, to: berth, pushed: PUSHED, fx, clients, work, label });
  const reply = await new RegistryApi(berth.url).request('GET', `/v2/imps3/oci-image/referrers/${digestOf(fx.get('oci-image'))}`);
  assert.equal(reply.status, 200);
  assert.deepEqual(parseJson<{ manifests: { digest: string }[] }>(reply.body).manifests.map((m) => m.digest), [digestOf(fx.get('artifact'))], `${label}: referrers`);
}

await describe('berth import from docker-registry 2.8.2 on S3 (radosgw)', { timeout: FILE_TIMEOUT_MS }, async () => {
  before(async () => {
    const s3 = s3Service();
    const client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } });
    await client.send(new CreateBucketCommand({ Bucket: oldBucket }));
    for (const bucket of [newBucket, verifiedBucket, unverifiedBucket]) await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    work = freshWorkDir('import-s3');
    short = freshShortDir();
    fx = await loadFixtures();
    old = await startRegistry(path.join(work, 'old'), 'reference', { storage: s3Yaml(oldBucket, '/old-registry') });
    clients = makeClients(work, short, old.host);
    oldApi = new RegistryApi(old.url);
    for (const [fixture, repository, tag] of PUSHED) await copy(fx.get(fixture).ref, `docker://${old.host}/${repository}:${tag}`);
    await copy(fx.get('artifact').ref, `docker://${old.host}/imps3/oci-image:sha256-${digestOf(fx.get('oci-image')).slice(7)}.sig`);
  });

  after(async () => {
    for (const registry of running) await registry.stop();
    await old?.stop();
    if (process.env.E2E_KEEP !== '1') {
      rmSync(work, { recursive: true, force: true });
      rmSync(short, { recursive: true, force: true });
    }
  });

  await test('into Berth on S3: every blob copied server-side, none through the process; skopeo pulls it all back', async () => {
    const berth = await prepareBerth('new-s3', s3Yaml(newBucket, 'berth'));
    const report = await importInto(berth.config);
    assert.deepEqual(report.refusals, []);
    assert.match(report.source, new RegExp(`^s3:.*/${oldBucket}/old-registry$`));
    assert.equal(report.repositories.imported, 4);
    assert.equal(report.blobs.copied, 0);
    assert.equal(report.blobs.bytesCopied, 0);
    assert.ok(report.blobs.serverSideCopied >= 10, `${report.blobs.serverSideCopied} blobs copied server-side`);
    assert.ok(report.blobs.bytesVerified > 64 * 1024 * 1024, 'the copies were hashed against their digests');
    const again = await importInto(berth.config);
    assert.equal(again.repositories.unchangedUnread, 4, 'a second pass skips every repository on one listing each (ETags), reading no link');
    await copy(fx.get('oci-image').ref, `docker://${old.host}/imps3/oci-index:v1`); // a tag moved: current/link rewritten
    const moved = await importInto(berth.config);
    assert.equal(moved.repositories.imported, 1);
    assert.equal(moved.repositories.unchangedUnread, 3);
    await copy(fx.get('oci-index').ref, `docker://${old.host}/imps3/oci-index:v1`); // and back, for the comparison below
    assert.equal((await importInto(berth.config)).repositories.imported, 1);
    await checkAll(await berth.start(), 's3');
  });

  await test('into Berth on a filesystem: every blob streamed and verified; skopeo pulls it all back', async () => {
    const berth = await prepareBerth('new-fs', undefined);
    const report = await importInto(berth.config);
    assert.deepEqual(report.refusals, []);
    assert.equal(report.repositories.imported, 4);
    assert.equal(report.blobs.serverSideCopied, 0);
    assert.equal(report.blobs.hardLinked, 0);
    assert.ok(report.blobs.copied >= 10, `${report.blobs.copied} blobs streamed`);
    assert.ok(report.blobs.bytesCopied > 64 * 1024 * 1024);
    await checkAll(await berth.start(), 'fs');
  });

  await test('through a recording proxy: one server-side copy per blob to its final key, no read-back; --no-verify reads no layer', async () => {
    const proxy = await startS3RecordingProxy(s3Service().endpoint);
    try {
      // The old registry's storage as the import sees it, through the proxy (the same endpoint for both sides).
      const source = path.join(work, 'old-through-proxy.yml');
      writeFileSync(source, `version: 0.1\nstorage:\n  ${s3Yaml(oldBucket, '/old-registry', proxy.endpoint)}\n`);
      const blobData = (r: RecordedRequest): boolean => r.bucket === oldBucket && r.key.startsWith('old-registry/docker/registry/v2/blobs/');
      const readFromOld = (requests: readonly RecordedRequest[]): number => requests.filter((r) => r.method === 'GET' && blobData(r)).reduce((sum, r) => sum + r.bytesOut, 0);

      const verified = await prepareBerth('new-s3-verified', s3Yaml(verifiedBucket, 'berth', proxy.endpoint));
      proxy.requests.length = 0;
      const report = await importInto(verified.config, { from: source });
      assert.deepEqual(report.refusals, []);
      assert.equal(report.blobs.copied, 0);
      const copies = proxy.requests.filter((r) => r.copySource !== undefined);
      const targets = new Set(copies.map((r) => r.key));
      assert.equal(targets.size, report.blobs.serverSideCopied, 'one copy target per blob');
      for (const copy of copies) {
        assert.equal(copy.bucket, verifiedBucket);
        assert.match(copy.key, /^berth\/.*blobs\/sha256\//, `${copy.key}: copied straight to its content-addressed key`);
        assert.ok(copy.copySource?.startsWith(`${oldBucket}/old-registry/docker/registry/v2/blobs/`), `${copy.copySource ?? ''}: copied from the old bucket`);
      }
      const wholeCopies = copies.filter((r) => !r.query.includes('uploadId'));
      assert.equal(new Set(wholeCopies.map((r) => r.key)).size, wholeCopies.length, 'no key is copied twice');
      assert.ok(copies.some((r) => r.query.includes('partNumber')), 'the 64 MiB layer by UploadPartCopy');
      assert.equal(proxy.requests.filter((r) => r.bucket === verifiedBucket && r.key.includes('uploads/')).length, 0, 'no private key in between');
      const readBack = proxy.requests.filter((r) => r.method === 'GET' && r.bucket === verifiedBucket).reduce((sum, r) => sum + r.bytesOut, 0);
      assert.ok(readBack < 64 * 1024, `${readBack} bytes read back from Berth's bucket`);
      const read = readFromOld(proxy.requests);
      assert.ok(report.blobs.bytesVerified > 64 * 1024 * 1024);
      assert.ok(read >= report.blobs.bytesVerified && read < report.blobs.bytesVerified + 1024 * 1024, `the source's bytes read once to hash them: ${read} bytes for ${report.blobs.bytesVerified} verified`);

      const unverified = await prepareBerth('new-s3-unverified', s3Yaml(unverifiedBucket, 'berth', proxy.endpoint));
      proxy.requests.length = 0;
      const trusted = await importInto(unverified.config, { from: source, args: ['--no-verify', 'the old bucket is trusted'] });
      assert.deepEqual(trusted.refusals, []);
      assert.equal(trusted.verified, false);
      assert.equal(trusted.blobs.bytesVerified, 0);
      assert.equal(trusted.blobs.serverSideCopied, report.blobs.serverSideCopied);
      const unread = readFromOld(proxy.requests);
      assert.ok(unread < 1024 * 1024, `--no-verify read ${unread} bytes of blob data (manifests only), of ${trusted.blobs.bytes}`);
      await checkAll(await unverified.start(), 's3 --no-verify');
    } finally {
      await proxy.close();
    }
  });
});
