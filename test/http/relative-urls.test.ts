// http.relativeurls: false (distribution's default) sends absolute Location headers built from
// http.host, or X-Forwarded-Proto / X-Forwarded-Host, or the connection and Host; true sends paths.
// Exact headers for each Location Berth sends, and skopeo pushing and pulling under each setting.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { content, digestOf, freshRepository, imageParts, MediaTypes, ociManifest } from '../support/content.js';
import { pushBlobs, pushImage } from '../support/push.js';
import { makeTestPki } from '../support/auth.js';
import { rawRequest, type RawResponse } from '../support/raw-http.js';
import { freePort } from '../support/registry-process.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

function location(response: RawResponse): string {
  return String(response.headers.location);
}

function run(command: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 120_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stderr });
    });
  });
}

/** An OCI layout with one small image tagged `v1`. */
function writeLayout(dir: string): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const config = content(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = content(`a layer ${dir}`);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: config.digest, size: config.bytes.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.bytes.length }],
  }));
  for (const blob of [config.bytes, layer.bytes, manifest]) writeFileSync(join(dir, 'blobs', 'sha256', digestOf(blob).slice(7)), blob);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: MediaTypes.ociManifest, digest: digestOf(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
  }));
}

/** skopeo copies the layout in and back out; both succeed. `certDir` (with ca.crt): verify TLS against it. */
async function skopeoRoundTrip(host: string, dir: string, certDir?: string): Promise<void> {
  const source = join(dir, 'source');
  writeLayout(source);
  const target = `docker://${host}/${freshRepository('skopeo')}:v1`;
  const dest = certDir === undefined ? ['--dest-tls-verify=false'] : ['--dest-cert-dir', certDir];
  const src = certDir === undefined ? ['--src-tls-verify=false'] : ['--src-cert-dir', certDir];
  const pushed = await run('skopeo', ['copy', '--retry-times', '0', ...dest, `oci:${source}:v1`, target]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const pulled = await run('skopeo', ['copy', '--retry-times', '0', ...src, target, `oci:${join(dir, 'pulled')}:v1`]);
  assert.equal(pulled.code, 0, pulled.stderr);
}

/** Polls until something accepts connections on the port (HAProxy has bound it). */
async function listening(port: number, process: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    assert.equal(process.exitCode, null, 'haproxy exited');
    assert.ok(Date.now() < deadline, `nothing listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('http.relativeurls: false (the default): absolute Location headers', () => {
  let registry: TestRegistry;
  let dir: string;
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_UI_ENABLED: 'true' } });
    dir = mkdtempSync(join(tmpdir(), 'berth-relurl-'));
  });
  after(async () => {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('upload start, chunk, completion and manifest PUT: Location is http://<Host>/v2/…', async () => {
    const repository = freshRepository('abs');
    const host = new URL(registry.url).host;
    const started = await rawRequest(registry.url, { method: 'POST', path: `/v2/${repository}/blobs/uploads/` });
    assert.equal(started.status, 202);
    const uuid = String(started.headers['docker-upload-uuid']);
    assert.equal(location(started), `http://${host}/v2/${repository}/blobs/uploads/${uuid}`);
    const blob = content('relative urls');
    const patched = await rawRequest(registry.url, { method: 'PATCH', path: new URL(location(started)).pathname, headers: { 'Content-Type': 'application/octet-stream' }, body: blob.bytes });
    assert.equal(patched.status, 202);
    assert.equal(location(patched), `http://${host}/v2/${repository}/blobs/uploads/${uuid}`);
    const out = await rawRequest(registry.url, { method: 'PATCH', path: new URL(location(started)).pathname, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-2' }, body: Buffer.from('abc') });
    assert.equal(out.status, 416);
    assert.equal(location(out), `http://${host}/v2/${repository}/blobs/uploads/${uuid}`, 'an error Location too');
    const done = await rawRequest(registry.url, { method: 'PUT', path: `${new URL(location(started)).pathname}?digest=${blob.digest}` });
    assert.equal(done.status, 201);
    assert.equal(location(done), `http://${host}/v2/${repository}/blobs/${blob.digest}`);
    const parts = imageParts('relative urls', 1);
    await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
    const manifest = ociManifest(parts);
    const put = await rawRequest(registry.url, { method: 'PUT', path: `/v2/${repository}/manifests/v1`, headers: { 'Content-Type': manifest.mediaType }, body: manifest.bytes });
    assert.equal(put.status, 201);
    assert.equal(location(put), `http://${host}/v2/${repository}/manifests/${manifest.digest}`);
  });

  it('X-Forwarded-Proto and X-Forwarded-Host (first of a list) build the origin; malformed values are ignored', async () => {
    const repository = freshRepository('fwd');
    const start = (headers: Record<string, string>): Promise<RawResponse> => rawRequest(registry.url, { method: 'POST', path: `/v2/${repository}/blobs/uploads/`, headers });
    const path = (response: RawResponse): string => new URL(location(response)).pathname;
    const forwarded = await start({ 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'registry.example.com:8443, proxy.internal' });
    assert.equal(location(forwarded), `https://registry.example.com:8443${path(forwarded)}`);
    const protoOnly = await start({ 'X-Forwarded-Proto': 'HTTPS' });
    assert.equal(location(protoOnly), `https://${new URL(registry.url).host}${path(protoOnly)}`);
    const bad = await start({ 'X-Forwarded-Proto': 'javascript', 'X-Forwarded-Host': 'evil.example/steal?x=' });
    assert.equal(location(bad), `http://${new URL(registry.url).host}${path(bad)}`);
    const otherHost = await start({ Host: 'alias.example:5000' });
    assert.equal(location(otherHost), `http://alias.example:5000${path(otherHost)}`);
  });

  it('the UI redirect /ui → /ui/ is absolute too', async () => {
    const redirect = await rawRequest(registry.url, { path: '/ui' });
    assert.equal(redirect.status, 301);
    assert.equal(location(redirect), `${registry.url}/ui/`);
  });

  it('paging Link headers stay paths, as distribution sends them', async () => {
    const repository = freshRepository('link');
    await pushImage(registry.url, repository, 'a');
    await pushImage(registry.url, repository, 'b');
    const page = await rawRequest(registry.url, { path: `/v2/${repository}/tags/list?n=1` });
    assert.equal(page.headers.link, `</v2/${repository}/tags/list?n=1&last=a>; rel="next"`);
  });

  it('skopeo pushes and pulls following absolute Locations', async () => {
    await skopeoRoundTrip(new URL(registry.url).host, dir);
  });
});

describe('http.host set: Location starts with it whatever the request says', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_HTTP_HOST: 'https://registry.example.com/' } });
  });
  after(async () => {
    await registry.stop();
  });

  it('POST upload with X-Forwarded-* → https://registry.example.com/v2/…', async () => {
    const repository = freshRepository('host');
    const started = await rawRequest(registry.url, { method: 'POST', path: `/v2/${repository}/blobs/uploads/`, headers: { 'X-Forwarded-Host': 'other.example', 'X-Forwarded-Proto': 'http' } });
    assert.equal(location(started), `https://registry.example.com/v2/${repository}/blobs/uploads/${String(started.headers['docker-upload-uuid'])}`);
  });
});

describe('http.relativeurls: true: Location headers are paths', () => {
  let registry: TestRegistry;
  let withHost: TestRegistry;
  let dir: string;
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_HTTP_RELATIVEURLS: 'true' } });
    withHost = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_HTTP_RELATIVEURLS: 'true', REGISTRY_HTTP_HOST: 'https://registry.example.com' } });
    dir = mkdtempSync(join(tmpdir(), 'berth-relurl-'));
  });
  after(async () => {
    await registry.stop();
    await withHost.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('upload start, completion and manifest PUT: Location is /v2/… (also with http.host and X-Forwarded-*)', async () => {
    for (const target of [registry, withHost]) {
      const repository = freshRepository('rel');
      const started = await rawRequest(target.url, { method: 'POST', path: `/v2/${repository}/blobs/uploads/`, headers: { 'X-Forwarded-Host': 'registry.example.com' } });
      assert.equal(location(started), `/v2/${repository}/blobs/uploads/${String(started.headers['docker-upload-uuid'])}`);
      const blob = content(`relative ${target.url}`);
      const done = await rawRequest(target.url, { method: 'PUT', path: `${location(started)}?digest=${blob.digest}`, headers: { 'Content-Type': 'application/octet-stream' }, body: blob.bytes });
      assert.equal(location(done), `/v2/${repository}/blobs/${blob.digest}`);
      const parts = imageParts(`relative ${target.url}`, 1);
      await pushBlobs(target.url, repository, [parts.config, ...parts.layers]);
      const manifest = ociManifest(parts);
      const put = await rawRequest(target.url, { method: 'PUT', path: `/v2/${repository}/manifests/v1`, headers: { 'Content-Type': manifest.mediaType }, body: manifest.bytes });
      assert.equal(location(put), `/v2/${repository}/manifests/${manifest.digest}`);
    }
  });

  it('skopeo pushes and pulls following relative Locations', async () => {
    await skopeoRoundTrip(new URL(registry.url).host, dir);
  });
});

describe('behind HAProxy terminating TLS (X-Forwarded-Proto: https), relativeurls false', () => {
  let registry: TestRegistry;
  let haproxy: ChildProcess;
  let dir: string;
  let port: number;
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory' });
    dir = mkdtempSync(join(tmpdir(), 'berth-relurl-proxy-'));
    const pki = makeTestPki(dir);
    writeFileSync(join(dir, 'haproxy.pem'), Buffer.concat([readFileSync(pki.certificate), readFileSync(pki.key)]));
    mkdirSync(join(dir, 'certs'));
    copyFileSync(pki.ca, join(dir, 'certs', 'ca.crt'));
    port = await freePort();
    writeFileSync(join(dir, 'haproxy.cfg'), [
      'defaults', '  mode http', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s',
      'frontend registry', `  bind 127.0.0.1:${port} ssl crt ${join(dir, 'haproxy.pem')}`, '  http-request set-header X-Forwarded-Proto https', '  default_backend berth',
      'backend berth', `  server berth ${new URL(registry.url).host}`, '',
    ].join('\n'));
    haproxy = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
    await listening(port, haproxy);
  });
  after(async () => {
    if (haproxy.exitCode === null) {
      haproxy.kill('SIGTERM');
      await new Promise((resolve) => haproxy.once('exit', resolve));
    }
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('skopeo pushes and pulls through the proxy; the Locations it follows are https://<proxy>/v2/…', async () => {
    await skopeoRoundTrip(`localhost:${port}`, dir, join(dir, 'certs'));
  });
});
