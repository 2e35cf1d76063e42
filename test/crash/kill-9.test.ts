// Crash safety: `kill -9` at arbitrary instants while clients push. After each restart every
// acknowledged manifest and blob is served with its exact bytes, nothing that fails verification is
// served, and interrupted uploads either resume to the right digest or answer BLOB_UPLOAD_UNKNOWN.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, startRegistryProcess, type RegistryProcess } from '../support/registry-process.js';

const ROUNDS = 6;
const WRITERS = 4;

/** fetch's types take no Buffer; a copy as a plain Uint8Array is a valid body. */
const body = (bytes: Buffer): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);
const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Pushed {
  readonly repository: string;
  readonly tag: string;
  readonly manifest: Buffer;
  readonly blobs: readonly Buffer[];
}

interface Interrupted {
  readonly repository: string;
  readonly location: string;
  readonly bytes: Buffer;
}

async function pushBlob(url: string, repository: string, bytes: Buffer, chunked: boolean, interrupted: Interrupted[]): Promise<void> {
  const digest = sha256(bytes);
  if (!chunked) {
    const response = await fetch(`${url}/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: body(bytes) });
    assert.equal(response.status, 201);
    return;
  }
  const start = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  let location = start.headers.get('location') ?? '';
  interrupted.push({ repository, location, bytes });
  const half = bytes.length >> 1;
  const first = await fetch(new URL(location, url), { method: 'PATCH', body: body(bytes.subarray(0, half)), headers: { 'Content-Range': `0-${half - 1}` } });
  assert.equal(first.status, 202);
  location = first.headers.get('location') ?? location;
  const done = await fetch(new URL(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, url), { method: 'PUT', body: body(bytes.subarray(half)) });
  assert.equal(done.status, 201);
  interrupted.splice(interrupted.findIndex((entry) => entry.bytes === bytes), 1);
}

/** Pushes images until the server dies; returns those whose manifest PUT was acknowledged. */
async function writer(url: string, id: number, round: number, acknowledged: Pushed[], interrupted: Interrupted[]): Promise<void> {
  for (let image = 0; ; image++) {
    const repository = `crash/w${id}`;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', round, image, id }));
    const layers = [randomBytes(64 * 1024 + image), randomBytes(700 * 1024 + id)];
    try {
      await pushBlob(url, repository, config, false, interrupted);
      for (const [i, layer] of layers.entries()) await pushBlob(url, repository, layer, i === 1, interrupted);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
          layers: layers.map((layer) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length })),
        }),
      );
      const tag = `r${round}-i${image}`;
      const response = await fetch(`${url}/v2/${repository}/manifests/${tag}`, {
        method: 'PUT',
        body: body(manifest),
        headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(response.status, 201);
      acknowledged.push({ repository, tag, manifest, blobs: [config, ...layers] });
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      return; // the server was killed: connection refused or reset
    }
  }
}

async function verify(url: string, pushed: readonly Pushed[]): Promise<void> {
  for (const image of pushed) {
    const response = await fetch(`${url}/v2/${image.repository}/manifests/${image.tag}`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(response.status, 200, `acknowledged ${image.repository}:${image.tag} lost`);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), image.manifest);
    for (const blob of image.blobs) {
      const got = await fetch(`${url}/v2/${image.repository}/blobs/${sha256(blob)}`);
      assert.equal(got.status, 200);
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(blob));
    }
  }
}

/** An upload cut by the crash either resumes from its stored offset or is unknown; never corrupt. */
async function resumeOrForget(url: string, upload: Interrupted): Promise<void> {
  const status = await fetch(new URL(upload.location, url));
  if (status.status === 404) {
    const body = (await status.json()) as { errors: Array<{ code: string }> };
    assert.equal(body.errors[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
    return;
  }
  assert.equal(status.status, 204);
  const range = status.headers.get('range') ?? '0-0';
  const location = status.headers.get('location') ?? upload.location;
  const head = await fetch(new URL(location, url), { method: 'GET' });
  assert.equal(head.status, 204);
  const stored = range === '0-0' ? 0 : Number(range.split('-')[1]) + 1;
  // The stored bytes are a prefix of what was sent (or the PATCH never landed); finish from there.
  const digest = sha256(upload.bytes);
  const done = await fetch(new URL(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, url), {
    method: 'PUT',
    body: body(upload.bytes.subarray(range === '0-0' ? 0 : stored)),
  });
  if (range === '0-0' && done.status === 400) return; // one stored byte at "0-0" is indistinguishable from none: digest refused, nothing stored
  assert.equal(done.status, 201, `resumed upload at ${stored} bytes failed`);
  const blob = await fetch(`${url}/v2/${upload.repository}/blobs/${digest}`);
  assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), digest);
}

/** Resolves once `count` pushes are acknowledged; a server that acknowledges none in a minute fails the test. */
async function untilAcknowledged(acknowledged: readonly Pushed[], count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (acknowledged.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${acknowledged.length} of ${count} pushes acknowledged within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'berth-crash-'));
let server: RegistryProcess | undefined;
after(async () => {
  await server?.stop('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

test('kill -9 during concurrent pushes loses nothing acknowledged and serves nothing unverified', async (t) => {
  const port = await freePort();
  const acknowledged: Pushed[] = [];
  let resumed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    server = await startRegistryProcess(dataDir, port);
    await verify(server.url, acknowledged);
    const interrupted: Interrupted[] = [];
    const url = server.url;
    const writers = Array.from({ length: WRITERS }, (_, id) => writer(url, id, round, acknowledged, interrupted));
    // Kill at a varying instant once this round has had acknowledged pushes (a fixed delay alone
    // may fire before anything was acknowledged on a loaded machine), mid-way through others.
    await Promise.race([untilAcknowledged(acknowledged, acknowledged.length + 1 + (round % 3)), Promise.all(writers)]);
    await new Promise((resolve) => setTimeout(resolve, (round * 37) % 120));
    await server.stop('SIGKILL');
    await Promise.all(writers);
    server = await startRegistryProcess(dataDir, port);
    await verify(server.url, acknowledged);
    for (const upload of interrupted) await resumeOrForget(server.url, upload);
    resumed += interrupted.length;
    await server.stop('SIGTERM');
  }
  t.diagnostic(`${acknowledged.length} acknowledged images verified after ${ROUNDS} kills; ${resumed} cut uploads resumed or forgotten`);
});
