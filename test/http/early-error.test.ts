// An error Berth sends before it has read the request body (413 on an over-cap manifest, 401 / 404 /
// read-only refusals on an upload) reaches the client whole, with its JSON envelope, instead of a
// connection reset: from a raw socket that writes its whole body before reading, from curl, and
// from skopeo pushing an over-cap manifest.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { content, digestOf, freshRepository, MediaTypes } from '../support/content.js';
import { htpasswdLine, startAuthRegistry, tempDir, type AuthRegistry } from '../support/auth.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const MiB = 1024 * 1024;

interface SocketReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Writes the request head and the whole body on a raw socket without reading anything (the socket
 * is paused until every byte has been handed to the kernel), then reads the reply to the end.
 * Rejects with the socket's error (EPIPE / ECONNRESET) when the server resets the connection.
 */
function writeAllThenRead(url: string, method: string, path: string, headers: Record<string, string>, body: Buffer): Promise<SocketReply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.pause();
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const split = raw.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`no complete response head: ${JSON.stringify(raw.slice(0, 200))}`));
        return;
      }
      const [statusLine = '', ...lines] = raw.slice(0, split).split('\r\n');
      const replyHeaders: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        replyHeaders[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers: replyHeaders, body: raw.slice(split + 4) });
    });
    const head = [`${method} ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, `Content-Length: ${body.length}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`), '', ''].join('\r\n');
    socket.write(head);
    socket.write(body, (error) => {
      if (error === undefined || error === null) socket.resume();
    });
  });
}

function assertEnvelope(reply: SocketReply, status: number, code: string): void {
  assert.equal(reply.status, status, `status (body ${reply.body.slice(0, 200)})`);
  assert.equal(reply.headers.connection, 'close');
  assert.match(reply.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(Buffer.byteLength(reply.body), Number(reply.headers['content-length']), 'the whole body arrived');
  const parsed = JSON.parse(reply.body) as { errors: Array<{ code: string }> };
  assert.deepEqual(parsed.errors.map((error) => error.code), [code]);
}

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { maxBuffer: 64 * MiB, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

describe('an early error response reaches the client', () => {
  let registry: TestRegistry;
  let readOnly: TestRegistry;
  let auth: AuthRegistry;
  let dir: string;

  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory' });
    readOnly = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED: 'true' } });
    const authDir = tempDir('berth-early-');
    writeFileSync(join(authDir, 'htpasswd'), `${htpasswdLine('alice', 'secret')}\n`);
    auth = await startAuthRegistry(`auth: { htpasswd: { realm: r, path: \${dir}/htpasswd } }`, authDir);
    dir = mkdtempSync(join(tmpdir(), 'berth-early-files-'));
  });
  after(async () => {
    await registry.stop();
    await readOnly.stop();
    await auth.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const fiveMiB = Buffer.alloc(5 * MiB, 0x20);

  it('raw socket: a 5 MiB manifest over the 4 MiB cap gets the whole 413 MANIFEST_INVALID', async () => {
    const reply = await writeAllThenRead(registry.url, 'PUT', `/v2/${freshRepository('early')}/manifests/big`, { 'Content-Type': MediaTypes.ociManifest }, fiveMiB);
    assertEnvelope(reply, 413, 'MANIFEST_INVALID');
  });

  it('raw socket: a 5 MiB PATCH of an unknown upload gets the whole 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const reply = await writeAllThenRead(registry.url, 'PATCH', `/v2/${freshRepository('early')}/blobs/uploads/00000000-0000-4000-8000-000000000000`, { 'Content-Type': 'application/octet-stream' }, fiveMiB);
    assertEnvelope(reply, 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('raw socket: a 5 MiB PATCH without credentials gets the whole 401 UNAUTHORIZED with its challenge', async () => {
    const reply = await writeAllThenRead(auth.url, 'PATCH', '/v2/team/app/blobs/uploads/00000000-0000-4000-8000-000000000000', { 'Content-Type': 'application/octet-stream' }, fiveMiB);
    assertEnvelope(reply, 401, 'UNAUTHORIZED');
    assert.match(reply.headers['www-authenticate'] ?? '', /^Basic /);
  });

  it('raw socket: a 5 MiB PUT to a read-only registry gets the whole refusal', async () => {
    const digest = digestOf(fiveMiB);
    const reply = await writeAllThenRead(readOnly.url, 'PUT', `/v2/${freshRepository('early')}/blobs/uploads/00000000-0000-4000-8000-000000000000?digest=${digest}`, { 'Content-Type': 'application/octet-stream' }, fiveMiB);
    assertEnvelope(reply, 405, 'UNSUPPORTED');
  });

  it('the connection of a small early error stays open for the next request (keep-alive kept)', async () => {
    const response = await fetch(`${registry.url}/v2/${freshRepository('early')}/blobs/uploads/00000000-0000-4000-8000-000000000000`, { method: 'PATCH', body: Buffer.alloc(1000) });
    await response.arrayBuffer();
    assert.equal(response.status, 404);
    assert.notEqual(response.headers.get('connection'), 'close');
  });

  it('curl --data-binary @5MiB: prints the 413 and its envelope, exit 0', async () => {
    const file = join(dir, 'five-mib.json');
    writeFileSync(file, fiveMiB);
    const result = await run('curl', ['-sS', '-X', 'PUT', '-H', `Content-Type: ${MediaTypes.ociManifest}`, '--data-binary', `@${file}`, '-w', '\n%{http_code}', `${registry.url}/v2/${freshRepository('early')}/manifests/big`]);
    assert.equal(result.code, 0, `curl failed: ${result.stderr}`);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.at(-1), '413');
    assert.deepEqual((JSON.parse(lines.slice(0, -1).join('\n')) as { errors: Array<{ code: string }> }).errors.map((error) => error.code), ['MANIFEST_INVALID']);
  });

  // skopeo reads the response while it writes, so without the drain it sees the reset only when the
  // RST wins the race (about one push in three here): three pushes, each must report the 413.
  it('skopeo copy of an image whose 6 MiB manifest is over the 4 MiB cap reports the 413, never a reset (3 pushes)', async () => {
    const layout = join(dir, 'layout');
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    const config = content(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: config.digest, size: config.bytes.length },
      layers: [],
      annotations: { pad: 'x'.repeat(6 * MiB) },
    }));
    const manifestDigest = digestOf(manifest);
    writeFileSync(join(layout, 'blobs', 'sha256', config.digest.slice(7)), config.bytes);
    writeFileSync(join(layout, 'blobs', 'sha256', manifestDigest.slice(7)), manifest);
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: MediaTypes.ociManifest, digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'big' } }],
    }));
    const host = new URL(registry.url).host;
    for (let attempt = 1; attempt <= 3; attempt++) {
      // --format oci: no fallback to a Docker v2 conversion (which drops the annotations and fits the cap).
      const result = await run('skopeo', ['copy', '--retry-times', '0', '--format', 'oci', '--dest-tls-verify=false', `oci:${layout}:big`, `docker://${host}/${freshRepository('early')}:big`]);
      assert.notEqual(result.code, 0, 'skopeo must fail');
      assert.doesNotMatch(result.stderr, /connection reset|broken pipe|EOF/i, `push ${attempt}: ${result.stderr}`);
      assert.match(result.stderr, /manifest invalid: manifest exceeds the limit of 4194304 bytes/, `push ${attempt}: ${result.stderr}`);
    }
  });
});
