// berth import --from berth: an embedded Berth (filesystem + SQLite), filled by skopeo (an OCI image,
// an OCI index, a Docker manifest list, a 64 MiB layer, an artifact with a subject and its
// cosign-style tag, an untagged manifest), moved while it serves into Berth on S3 (the shared
// radosgw) + PostgreSQL (the shared server), and from there back into a fresh embedded Berth. After
// each move skopeo pulls everything from the new store and it is compared with the first one:
// catalog, tag lists, manifest bytes, the untagged manifest by digest, referrers, blobs and file
// contents. A second pass with nothing new changes nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';
import { s3Service } from '../support/services.js';
import { parseJson, sha256 } from './harness/digests.js';
import { run, runOk } from './harness/exec.js';
import { digestOf, loadFixtures, type Fixtures } from './harness/fixtures.js';
import { checkImported } from './harness/import-checks.js';
import { makeClients, type Clients } from './harness/clients.js';
import { freshShortDir, freshWorkDir, repoRoot } from './harness/paths.js';
import { RegistryApi } from './harness/registry-api.js';
import { startRegistry, type Registry, type RegistryOptions } from './harness/registry-process.js';
import { FILE_TIMEOUT_MS } from './harness/suite.js';

interface Report {
  source: string;
  repositories: { total: number; imported: number; unchanged: number; withRefusals: number };
  manifests: number;
  tags: number;
  blobs: { hardLinked: number; serverSideCopied: number; copied: number; bytesCopied: number; bytesVerified: number };
  refusals: unknown[];
}

const PUSHED: readonly [fixture: string, repository: string, tag: string][] = [
  ['oci-image', 'mv/oci-image', 'v1'],
  ['oci-index', 'mv/oci-index', 'v1'],
  ['docker-list', 'mv/nested/docker-list', 'v1'],
  ['big-layer', 'mv/big-layer', 'v1'],
  ['artifact', 'mv/oci-image', 'artifact'],
  // Untagged afterwards: docker-v2s2 is pushed to mv/moving:v1, then oci-image takes the tag.
  ['docker-v2s2', 'mv/moving', 'v1'],
  ['oci-image', 'mv/moving', 'v1'],
];

let work: string;
let short: string;
let fx: Fixtures;
let clients: Clients;
let database: TestDatabase;
let embedded: Registry;
let embeddedApi: RegistryApi;
const running: Registry[] = [];
const bucket = `import-berth-${randomBytes(4).toString('hex')}`;
const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

async function copy(from: string, to: string): Promise<void> {
  await clients.skopeo(['copy', '-q', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', from, to]);
}

/** A Berth's directory and configuration, written by a first start. */
async function prepare(name: string, options: RegistryOptions = {}): Promise<{ config: string; start: () => Promise<Registry> }> {
  const dir = path.join(work, name);
  const first = await startRegistry(dir, 'berth', options);
  await first.stop();
  return {
    config: path.join(dir, 'registry', 'config.yml'),
    start: async () => {
      const registry = await startRegistry(dir, 'berth', options);
      running.push(registry);
      return registry;
    },
  };
}

function postgresS3Options(): RegistryOptions {
  const s3 = s3Service();
  const url = new URL(database.url);
  return {
    storage: `s3: { accesskey: ${s3.accessKey}, secretkey: ${s3.secretKey}, region: ${s3.region}, regionendpoint: "${s3.endpoint}", bucket: ${bucket}, rootdirectory: berth, secure: false }`,
    extra: [
      `database: { enabled: true, host: "${url.hostname}", port: ${url.port}, dbname: ${url.pathname.slice(1)}${url.username === '' ? '' : `, user: ${decodeURIComponent(url.username)}`}${url.password === '' ? '' : `, password: "${decodeURIComponent(url.password)}"`}, sslmode: disable }`,
    ],
  };
}

async function importBerth(source: string, destination: string, ...more: string[]): Promise<Report> {
  const result = await runOk(process.execPath, [main, 'import', '--from', 'berth', source, destination, '--json', ...more], { timeoutMs: 300_000 });
  return parseJson<Report>(Buffer.from(result.stdout));
}

async function checkAll(to: Registry, label: string): Promise<void> {
  await checkImported({ from: embeddedApi, to, pushed: PUSHED.filter(([, repository]) => repository !== 'mv/moving'), fx, clients, work, label });
  const api = new RegistryApi(to.url);
  const untagged = digestOf(fx.get('docker-v2s2'));
  assert.equal(sha256(await api.manifestBytes('mv/moving', untagged)), untagged, `${label}: the untagged manifest, by digest`);
  const reply = await api.request('GET', `/v2/mv/oci-image/referrers/${digestOf(fx.get('oci-image'))}`);
  assert.equal(reply.status, 200);
  assert.deepEqual(parseJson<{ manifests: { digest: string }[] }>(reply.body).manifests.map((m) => m.digest), [digestOf(fx.get('artifact'))], `${label}: referrers`);
}

await describe('berth import --from berth: embedded → S3 + PostgreSQL → embedded', { timeout: FILE_TIMEOUT_MS }, async () => {
  let embeddedConfig: string;
  let movedConfig: string;
  let startMoved: () => Promise<Registry>;

  before(async () => {
    const s3 = s3Service();
    const client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    database = await createTestDatabase('import_berth');
    await (await database.open()).close(); // migrated up
    work = freshWorkDir('import-berth');
    short = freshShortDir();
    fx = await loadFixtures();
    const first = await prepare('embedded');
    embeddedConfig = first.config;
    embedded = await first.start();
    clients = makeClients(work, short, embedded.host);
    embeddedApi = new RegistryApi(embedded.url);
    for (const [fixture, repository, tag] of PUSHED) await copy(fx.get(fixture).ref, `docker://${embedded.host}/${repository}:${tag}`);
    await copy(fx.get('artifact').ref, `docker://${embedded.host}/mv/oci-image:sha256-${digestOf(fx.get('oci-image')).slice(7)}.sig`);
    const moved = await prepare('s3-postgres', postgresS3Options());
    movedConfig = moved.config;
    startMoved = moved.start;
  });

  after(async () => {
    for (const registry of running) await registry.stop();
    await database?.drop();
    if (process.env.E2E_KEEP !== '1') {
      rmSync(work, { recursive: true, force: true });
      rmSync(short, { recursive: true, force: true });
    }
  });

  await test('the same store as source and destination is refused', async () => {
    const result = await run(process.execPath, [main, 'import', '--from', 'berth', embeddedConfig, embeddedConfig, '--json'], { timeoutMs: 60_000 });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /the source and the destination are the same store/);
  });

  await test('embedded → S3 + PostgreSQL while the embedded one serves: nothing refused, every blob streamed and verified', async () => {
    const report = await importBerth(embeddedConfig, movedConfig);
    assert.deepEqual(report.refusals, []);
    assert.match(report.source, /^berth:sqlite:.*\+filesystem:/);
    assert.equal(report.repositories.total, 5);
    assert.equal(report.repositories.imported, 5);
    assert.equal(report.manifests, 11, 'every manifest, the untagged one and index children included');
    assert.ok(report.blobs.copied >= 10, `${report.blobs.copied} blobs streamed`);
    assert.ok(report.blobs.bytesVerified > 64 * 1024 * 1024);
    const again = await importBerth(embeddedConfig, movedConfig);
    assert.equal(again.repositories.unchanged, 5, 'a second pass with nothing new changes nothing');
    assert.equal(again.manifests, 0);
    await checkAll(await startMoved(), 's3-postgres');
  });

  await test('S3 + PostgreSQL → a fresh embedded Berth: the same content again', async () => {
    const back = await prepare('embedded-again');
    const report = await importBerth(movedConfig, back.config);
    assert.deepEqual(report.refusals, []);
    assert.match(report.source, /^berth:postgres:.*\+s3:/);
    assert.equal(report.repositories.imported, 5);
    assert.equal(report.manifests, 11);
    assert.ok(report.blobs.copied >= 10);
    await checkAll(await back.start(), 'embedded-again');
  });
});
