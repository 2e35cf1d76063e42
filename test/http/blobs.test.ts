// end-2 (GET/HEAD blob) with ranges, ETag and errors, on both storage drivers.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { content, freshRepository, randomContent, type Content } from '../support/content.js';
import { assertError } from '../support/error-envelope.js';
import { pushBlob, pushImage } from '../support/push.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const UNKNOWN_DIGEST = `sha256:${'0'.repeat(64)}`;

for (const storage of ['filesystem', 'inmemory'] as const) {
  describe(`blobs: GET/HEAD /v2/<name>/blobs/<digest> (${storage})`, () => {
    let registry: TestRegistry;
    let repository: string;
    let blob: Content;
    const blobUrl = (digest: string = blob.digest): string => `${registry.url}/v2/${repository}/blobs/${digest}`;

    before(async () => {
      registry = await startTestRegistry({ storage });
      repository = freshRepository('blobs');
      blob = randomContent(300_000);
      await pushBlob(registry.url, repository, blob);
    });
    after(async () => {
      await registry.stop();
    });

    it('GET blob → 200 with the bytes, Content-Length, Docker-Content-Digest and ETag', async () => {
      const response = await fetch(blobUrl());
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-length'), String(blob.size));
      assert.equal(response.headers.get('docker-content-digest'), blob.digest);
      assert.equal(response.headers.get('etag'), `"${blob.digest}"`);
      assert.ok(body.equals(blob.bytes), 'served bytes equal the pushed bytes');
    });

    it('a client that disconnects in the middle of a large blob leaves the registry serving it whole', async () => {
      const repository = freshRepository('abort');
      const blob = randomContent(6 * 1024 * 1024);
      await pushBlob(registry.url, repository, blob);
      await new Promise<void>((resolve, reject) => {
        const url = new URL(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
        const req = request({ hostname: url.hostname, port: url.port, path: url.pathname, agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve() : reject(error)));
        req.end();
      });
      const again = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
      assert.equal(again.status, 200);
      assert.ok(Buffer.from(await again.arrayBuffer()).equals(blob.bytes));
    });

    it('large blob GETs on one keep-alive connection: whole, a range, whole again, then a manifest-sized request', async () => {
      const repository = freshRepository('keepalive');
      const large = randomContent(5 * 1024 * 1024 + 123);
      await pushBlob(registry.url, repository, large);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const get = (path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; reused: boolean }> =>
        new Promise((resolve, reject) => {
          const url = new URL(`${registry.url}${path}`);
          const req = request({ hostname: url.hostname, port: url.port, path: url.pathname, agent, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), reused: req.reusedSocket }));
          });
          req.on('error', reject);
          req.end();
        });
      try {
        const path = `/v2/${repository}/blobs/${large.digest}`;
        const whole = await get(path);
        assert.equal(whole.status, 200);
        assert.ok(whole.body.equals(large.bytes));
        const part = await get(path, { Range: 'bytes=1000000-3999999' });
        assert.equal(part.status, 206);
        assert.ok(part.body.equals(large.bytes.subarray(1_000_000, 4_000_000)));
        assert.equal(part.reused, true, 'the connection was kept after a whole large blob');
        const again = await get(path);
        assert.ok(again.body.equals(large.bytes));
        assert.equal(again.reused, true);
        const small = await get('/v2/');
        assert.equal(small.status, 200);
        assert.equal(small.reused, true);
      } finally {
        agent.destroy();
      }
    });

    it('pipelined GETs of large blobs on one connection: each response whole and in order', async () => {
      // Node answers a pipelined request only once the response before it finished: a body sent to
      // the socket before then (zero copy) would land ahead of its own headers.
      const repository = freshRepository('pipelined');
      const large = randomContent(3 * 1024 * 1024 + 17);
      const medium = randomContent(700_001);
      await pushBlob(registry.url, repository, large);
      await pushBlob(registry.url, repository, medium);
      const order = [large, medium, large, medium, large];
      const url = new URL(registry.url);
      const socket = connect(Number(url.port), url.hostname);
      try {
        await once(socket, 'connect');
        socket.write(order.map((c) => `GET /v2/${repository}/blobs/${c.digest} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`).join(''));
        const responses = await readResponses(socket, order.length);
        responses.forEach((response, i) => {
          assert.equal(response.status, 200, `response ${i}`);
          assert.equal(response.headers['docker-content-digest'], order[i]?.digest, `response ${i}`);
          assert.ok(response.body.equals(order[i]?.bytes ?? Buffer.alloc(0)), `response ${i}: the bytes of its own blob`);
        });
      } finally {
        socket.destroy();
      }
    });

    it('HEAD blob → 200 with Content-Length and Docker-Content-Digest, no body', async () => {
      const response = await fetch(blobUrl(), { method: 'HEAD' });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-length'), String(blob.size));
      assert.equal(response.headers.get('docker-content-digest'), blob.digest);
      assert.equal((await response.arrayBuffer()).byteLength, 0);
    });

    it('GET blob with If-None-Match of its ETag → 304', async () => {
      const response = await fetch(blobUrl(), { headers: { 'If-None-Match': `"${blob.digest}"` } });
      await response.arrayBuffer();
      assert.equal(response.status, 304);
    });

    it('GET blob with Range bytes=a-b → 206 with Content-Range and those bytes', async () => {
      const response = await fetch(blobUrl(), { headers: { Range: 'bytes=10-1009' } });
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 206);
      assert.equal(response.headers.get('content-range'), `bytes 10-1009/${blob.size}`);
      assert.equal(response.headers.get('content-length'), '1000');
      assert.ok(body.equals(blob.bytes.subarray(10, 1010)));
    });

    it('GET blob with Range bytes=a- → 206 to the end', async () => {
      const start = blob.size - 123;
      const response = await fetch(blobUrl(), { headers: { Range: `bytes=${start}-` } });
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 206);
      assert.equal(response.headers.get('content-range'), `bytes ${start}-${blob.size - 1}/${blob.size}`);
      assert.ok(body.equals(blob.bytes.subarray(start)));
    });

    it('GET blob with Range bytes=-n → 206 with the last n bytes', async () => {
      const response = await fetch(blobUrl(), { headers: { Range: 'bytes=-500' } });
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 206);
      assert.equal(response.headers.get('content-range'), `bytes ${blob.size - 500}-${blob.size - 1}/${blob.size}`);
      assert.ok(body.equals(blob.bytes.subarray(blob.size - 500)));
    });

    it('GET blob with Range whose end is past the size → 206 clamped to the last byte', async () => {
      const response = await fetch(blobUrl(), { headers: { Range: `bytes=${blob.size - 10}-${blob.size + 1000}` } });
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 206);
      assert.equal(response.headers.get('content-range'), `bytes ${blob.size - 10}-${blob.size - 1}/${blob.size}`);
      assert.equal(body.length, 10);
    });

    it('HEAD blob with Range → 206 with Content-Range and no body', async () => {
      const response = await fetch(blobUrl(), { method: 'HEAD', headers: { Range: 'bytes=0-99' } });
      assert.equal(response.status, 206);
      assert.equal(response.headers.get('content-range'), `bytes 0-99/${blob.size}`);
      assert.equal(response.headers.get('content-length'), '100');
      assert.equal((await response.arrayBuffer()).byteLength, 0);
    });

    for (const [label, range] of [
      ['starting beyond the size', `bytes=${1_000_000}-`],
      ['malformed', 'bytes=abc-def'],
      ['in another unit', 'items=0-5'],
      ['with several ranges', 'bytes=0-1,5-9'],
      ['reversed', 'bytes=50-10'],
      ['empty suffix', 'bytes=-0'],
    ] as const) {
      it(`GET blob with Range ${label} → 416 with Content-Range bytes */size`, async () => {
        const response = await fetch(blobUrl(), { headers: { Range: range } });
        await response.arrayBuffer();
        assert.equal(response.status, 416);
        assert.equal(response.headers.get('content-range'), `bytes */${blob.size}`);
      });
    }

    it('GET unknown blob in a known repository → 404 BLOB_UNKNOWN', async () => {
      await assertError(await fetch(blobUrl(UNKNOWN_DIGEST)), 404, 'BLOB_UNKNOWN');
    });

    it('HEAD unknown blob → 404 with no body', async () => {
      const response = await fetch(blobUrl(UNKNOWN_DIGEST), { method: 'HEAD' });
      assert.equal(response.status, 404);
      assert.equal((await response.arrayBuffer()).byteLength, 0);
    });

    it('GET blob in an unknown repository → 404 NAME_UNKNOWN', async () => {
      await assertError(await fetch(`${registry.url}/v2/no/such-repo/blobs/${blob.digest}`), 404, 'NAME_UNKNOWN');
    });

    it('GET blob pushed to another repository → 404 BLOB_UNKNOWN (blobs are per repository)', async () => {
      const other = freshRepository('other');
      await pushBlob(registry.url, other, content('something else'));
      await assertError(await fetch(`${registry.url}/v2/${other}/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
    });

    it('GET blob with a malformed digest → 400 DIGEST_INVALID', async () => {
      await assertError(await fetch(blobUrl('sha256:xyz')), 400, 'DIGEST_INVALID');
      await assertError(await fetch(blobUrl(`sha256:${'A'.repeat(64)}`)), 400, 'DIGEST_INVALID');
    });

    it('GET a zero-length blob → 200 with Content-Length 0', async () => {
      const empty = content('');
      await pushBlob(registry.url, repository, empty);
      const response = await fetch(blobUrl(empty.digest));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-length'), '0');
      assert.equal(response.headers.get('docker-content-digest'), empty.digest);
      assert.equal((await response.arrayBuffer()).byteLength, 0);
    });

    it('GET a config blob of a pushed image → its exact bytes', async () => {
      const image = await pushImage(registry.url, repository, 'cfg');
      const response = await fetch(blobUrl(image.config.digest));
      assert.equal(response.status, 200);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(image.config.bytes));
    });
  });
}

/** Reads `count` HTTP/1.1 responses framed by Content-Length from a socket, in the order they come. */
async function readResponses(socket: Socket, count: number): Promise<Array<{ status: number; headers: Record<string, string>; body: Buffer }>> {
  let buffered = Buffer.alloc(0);
  const responses: Array<{ status: number; headers: Record<string, string>; body: Buffer }> = [];
  for await (const chunk of socket) {
    buffered = Buffer.concat([buffered, chunk as Buffer]);
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) break;
      const [statusLine = '', ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
      assert.match(statusLine, /^HTTP\/1\.1 \d{3} /, `a status line where response ${responses.length} should start`);
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length']);
      if (buffered.length < end + 4 + length) break;
      responses.push({ status: Number(statusLine.split(' ')[1]), headers, body: buffered.subarray(end + 4, end + 4 + length) });
      buffered = buffered.subarray(end + 4 + length);
      if (responses.length === count) {
        assert.equal(buffered.length, 0, 'nothing after the last response');
        return responses;
      }
    }
  }
  throw new Error(`the connection closed after ${responses.length} of ${count} responses`);
}
