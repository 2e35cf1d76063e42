// HTTP client side of the workload: blob data, push (monolithic, chunked), pull, manifests.
// Every response is checked; a wrong status, digest or byte count throws a BenchError.
import crypto from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export class BenchError extends Error {}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

const sha256 = (b) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
export { sha256 };

// ------------------------------------------------------------------ data
// Blob bytes: 1 MiB pieces, each a 32-byte header unique to (blob, piece) followed by a slice of a
// 16 MiB random pool. Unique, incompressible, and free to produce again during the timed upload.
const POOL = crypto.randomBytes(16 * MiB);
const PIECE = MiB;
const HEADER = 32;

export class Blob {
  constructor(label, size) {
    this.label = label;
    this.size = size;
    this.key = crypto.createHash('sha256').update(`${process.pid}/${Date.now()}/${label}`).digest();
    this.shift = this.key.readUInt32BE(0) % (POOL.length - PIECE);
    const h = crypto.createHash('sha256');
    for (const p of this.pieces()) h.update(p);
    this.digest = `sha256:${h.digest('hex')}`;
  }
  /** Buffers whose concatenation is the blob's bytes, from byte offset `from`, for `length` bytes (piece-aligned `from`). */
  *pieces(from = 0, length = this.size - from) {
    let off = from;
    const end = from + length;
    while (off < end) {
      const j = Math.floor(off / PIECE);
      const n = Math.min(PIECE, end - off, this.size - j * PIECE);
      const header = Buffer.alloc(HEADER);
      this.key.copy(header, 0, 0, 24);
      header.writeBigUInt64BE(BigInt(j), 24);
      const start = (this.shift + j * 40961) % (POOL.length - PIECE);
      if (n <= HEADER) yield header.subarray(0, n);
      else {
        yield header;
        yield POOL.subarray(start, start + n - HEADER);
      }
      off += n;
    }
  }
}

// ------------------------------------------------------------------ requests

/**
 * One request. body: Buffer, or a generator of Buffers (streamed with backpressure; set Content-Length).
 * Collects the response body unless opts.sink is given (called with each chunk).
 */
export function request(base, method, path, { headers = {}, body, sink } = {}) {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const parts = [];
      let bytes = 0;
      res.on('data', (d) => {
        bytes += d.length;
        if (sink) sink(d);
        else parts.push(d);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: sink ? null : Buffer.concat(parts), bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined || body === null) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      (async () => {
        for (const piece of body) {
          if (!req.write(piece)) await once(req, 'drain');
        }
        req.end();
      })().catch(reject);
    }
  });
}

function expect(cond, what) {
  if (!cond) throw new BenchError(what);
}

function expectStatus(r, status, what) {
  expect(r.status === status, `${what}: status ${r.status}, expected ${status}${r.body?.length ? ` (${r.body.toString('utf8', 0, 200)})` : ''}`);
}

function withQuery(location, q) {
  return location + (location.includes('?') ? '&' : '?') + q;
}

export async function startUpload(base, repo) {
  const r = await request(base, 'POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'content-length': '0' } });
  expectStatus(r, 202, `POST /v2/${repo}/blobs/uploads/`);
  expect(r.headers.location, 'POST upload: no Location');
  return r.headers.location;
}

function checkBlobPut(r, blob, what) {
  expectStatus(r, 201, what);
  expect(r.headers['docker-content-digest'] === blob.digest, `${what}: Docker-Content-Digest ${r.headers['docker-content-digest']}, expected ${blob.digest}`);
  expect(r.headers.location, `${what}: no Location`);
}

/** POST, then one PUT ?digest= with the whole body. */
export async function pushMonolithic(base, repo, blob) {
  const location = await startUpload(base, repo);
  const body = blob.buffer ?? blob.pieces();
  const r = await request(base, 'PUT', withQuery(location, `digest=${encodeURIComponent(blob.digest)}`), {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
    body,
  });
  checkBlobPut(r, blob, `PUT blob ${blob.label}`);
}

/** POST, PATCH per chunk with Content-Range (Range reply checked), then PUT ?digest= without body. */
export async function pushChunked(base, repo, blob, chunk) {
  let location = await startUpload(base, repo);
  for (let off = 0; off < blob.size; off += chunk) {
    const n = Math.min(chunk, blob.size - off);
    const r = await request(base, 'PATCH', location, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(n), 'content-range': `${off}-${off + n - 1}` },
      body: blob.pieces(off, n),
    });
    expectStatus(r, 202, `PATCH ${off}-${off + n - 1}`);
    expect(r.headers.range === `0-${off + n - 1}`, `PATCH ${off}-${off + n - 1}: Range ${r.headers.range}, expected 0-${off + n - 1}`);
    expect(r.headers.location, 'PATCH: no Location');
    location = r.headers.location;
  }
  const r = await request(base, 'PUT', withQuery(location, `digest=${encodeURIComponent(blob.digest)}`), { headers: { 'content-length': '0' } });
  checkBlobPut(r, blob, `PUT (close chunked) ${blob.label}`);
}

/** GET the blob, hashing while it streams; checks status, digest header, byte count and sha256. */
export async function pullBlob(base, repo, blob) {
  const h = crypto.createHash('sha256');
  const r = await request(base, 'GET', `/v2/${repo}/blobs/${blob.digest}`, { sink: (d) => h.update(d) });
  const what = `GET blob ${blob.label}`;
  expectStatus(r, 200, what);
  expect(r.headers['docker-content-digest'] === blob.digest, `${what}: Docker-Content-Digest ${r.headers['docker-content-digest']}`);
  expect(r.bytes === blob.size, `${what}: ${r.bytes} bytes, expected ${blob.size}`);
  const got = `sha256:${h.digest('hex')}`;
  expect(got === blob.digest, `${what}: content hashes to ${got}, expected ${blob.digest}`);
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export function ociManifest(config, layers) {
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
    }),
  );
  return { body, digest: sha256(body), size: body.length };
}

export async function putManifest(base, repo, reference, manifest) {
  const r = await request(base, 'PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: { 'content-type': OCI_MANIFEST, 'content-length': String(manifest.size) },
    body: manifest.body,
  });
  expectStatus(r, 201, `PUT manifest ${repo}:${reference}`);
  expect(r.headers['docker-content-digest'] === manifest.digest, `PUT manifest ${repo}:${reference}: Docker-Content-Digest ${r.headers['docker-content-digest']}`);
}

export async function getManifest(base, repo, reference, manifest) {
  const r = await request(base, 'GET', `/v2/${repo}/manifests/${reference}`, { headers: { accept: OCI_MANIFEST } });
  const what = `GET manifest ${repo}:${reference}`;
  expectStatus(r, 200, what);
  expect(r.headers['docker-content-digest'] === manifest.digest, `${what}: Docker-Content-Digest ${r.headers['docker-content-digest']}`);
  expect(r.body.equals(manifest.body), `${what}: body differs from what was pushed`);
  expect((r.headers['content-type'] ?? '').startsWith(OCI_MANIFEST), `${what}: Content-Type ${r.headers['content-type']}`);
  return r;
}

/** A small in-memory blob (layer or config), pushed the way a client does: HEAD (404), POST, PUT. */
export class SmallBlob {
  constructor(label, buffer) {
    this.label = label;
    this.buffer = buffer;
    this.size = buffer.length;
    this.digest = sha256(buffer);
  }
}

export async function pushSmallBlobAsClient(base, repo, blob) {
  const h = await request(base, 'HEAD', `/v2/${repo}/blobs/${blob.digest}`);
  expectStatus(h, 404, `HEAD (before push) ${repo}@${blob.digest}`);
  await pushMonolithic(base, repo, blob);
}

export async function pullSmallBlob(base, repo, blob) {
  const r = await request(base, 'GET', `/v2/${repo}/blobs/${blob.digest}`);
  const what = `GET blob ${repo}@${blob.digest}`;
  expectStatus(r, 200, what);
  expect(r.headers['docker-content-digest'] === blob.digest, `${what}: Docker-Content-Digest ${r.headers['docker-content-digest']}`);
  expect(r.body.equals(blob.buffer), `${what}: bytes differ`);
}
