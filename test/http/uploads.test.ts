// end-4a/4b (POST), end-5 (PATCH), end-6 (PUT), end-13 (GET status), cancel, end-11 (mount).
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bodyOf, content, freshRepository, randomContent } from '../support/content.js';
import { assertError } from '../support/error-envelope.js';
import { pushBlob, startUpload, withDigest } from '../support/push.js';
import { pathOf, rawRequest } from '../support/raw-http.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

/** Names of the files under the data directory's uploads/ (upload bytes in progress); none in memory. */
function uploadFiles(dataDir: string | undefined): string[] {
  const uploads = join(dataDir ?? '', 'uploads');
  return dataDir !== undefined && existsSync(uploads) ? readdirSync(uploads).sort() : [];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const storage of ['filesystem', 'inmemory'] as const) {
  describe(`uploads (${storage})`, () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startTestRegistry({ storage });
    });
    after(async () => {
      await registry.stop();
    });

    async function assertServed(repository: string, blob: { digest: string; bytes: Buffer }): Promise<void> {
      const response = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200, `blob ${blob.digest} is served`);
      assert.equal(response.headers.get('docker-content-digest'), blob.digest);
      assert.ok(body.equals(blob.bytes), 'served bytes equal the uploaded bytes');
    }

    async function assertNotServed(repository: string, digest: string): Promise<void> {
      const response = await fetch(`${registry.url}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
      await response.arrayBuffer();
      assert.equal(response.status, 404);
    }

    async function patch(location: string, body: Buffer, headers: Record<string, string> = {}): Promise<Response> {
      return fetch(location, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), ...headers },
        body: bodyOf(body),
      });
    }

    it('POST upload → 202 with Location, Docker-Upload-UUID and Range 0-0', async () => {
      const repository = freshRepository();
      const response = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
      await response.arrayBuffer();
      assert.equal(response.status, 202);
      const location = response.headers.get('location');
      const uuid = response.headers.get('docker-upload-uuid');
      assert.ok(location !== null && uuid !== null);
      assert.match(uuid, UUID);
      assert.ok(pathOf(location).startsWith(`/v2/${repository}/blobs/uploads/`), `Location ${location} names the upload`);
      assert.equal(response.headers.get('range'), '0-0');
      assert.equal(response.headers.get('content-length'), '0');
    });

    it('POST upload without the trailing slash → 202', async () => {
      const response = await fetch(`${registry.url}/v2/${freshRepository()}/blobs/uploads`, { method: 'POST' });
      await response.arrayBuffer();
      assert.equal(response.status, 202);
    });

    it('POST ?digest= with the whole blob (monolithic) → 201 with Location and Docker-Content-Digest', async () => {
      const repository = freshRepository();
      const blob = randomContent(70_000);
      const response = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
        body: bodyOf(blob.bytes),
      });
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('docker-content-digest'), blob.digest);
      assert.equal(pathOf(response.headers.get('location') ?? ''), `/v2/${repository}/blobs/${blob.digest}`);
      await assertServed(repository, blob);
    });

    it('POST ?digest= whose body hashes differently → 400 DIGEST_INVALID and nothing is served', async () => {
      const repository = freshRepository();
      const blob = content('the real bytes');
      const claimed = content('other bytes').digest;
      const before = uploadFiles(registry.dataDir);
      const response = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/?digest=${claimed}`, { method: 'POST', body: bodyOf(blob.bytes) });
      await assertError(response, 400, 'DIGEST_INVALID');
      await assertNotServed(repository, claimed);
      await assertNotServed(repository, blob.digest);
      assert.deepEqual(uploadFiles(registry.dataDir), before, 'no upload file is left behind');
    });

    // A small last body (≤ 256 KiB, with its length) is read into memory and, when it is the whole
    // blob, stored in one step (upload-service.ts); otherwise it is appended as any other body.
    it('a small closing PUT body after an empty PATCH → appended to the (empty) upload, 201 and served', async () => {
      const repository = freshRepository();
      const blob = randomContent(3000);
      const location = await startUpload(registry.url, repository);
      const patched = await patch(location, Buffer.alloc(0));
      await patched.arrayBuffer();
      assert.equal(patched.status, 202);
      const done = await fetch(withDigest(location, blob.digest), { method: 'PUT', body: bodyOf(blob.bytes) });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      await assertServed(repository, blob);
    });

    it('a small closing PUT body that is not the whole blob: DIGEST_INVALID alone, the blob once the rest is before it', async () => {
      const repository = freshRepository();
      const blob = randomContent(8000);
      const location = await startUpload(registry.url, repository);
      // The tail alone does not hash to the digest: 400, and the session is still there.
      await assertError(await fetch(withDigest(location, blob.digest), { method: 'PUT', body: bodyOf(blob.bytes.subarray(5000)) }), 400, 'DIGEST_INVALID');
      await assertNotServed(repository, blob.digest);
      const again = await startUpload(registry.url, repository);
      await (await patch(again, blob.bytes.subarray(0, 5000))).arrayBuffer();
      const done = await fetch(withDigest(again, blob.digest), { method: 'PUT', body: bodyOf(blob.bytes.subarray(5000)) });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      await assertServed(repository, blob);
      assert.ok(!uploadFiles(registry.dataDir).includes(again.split('/').pop() ?? ''), 'the completed upload file is gone');
    });

    it('POST then PUT ?digest= with the whole body (containerd style) → 201', async () => {
      const repository = freshRepository();
      const blob = randomContent(40_000);
      const location = await startUpload(registry.url, repository);
      const response = await fetch(withDigest(location, blob.digest), {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
        body: bodyOf(blob.bytes),
      });
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('docker-content-digest'), blob.digest);
      assert.equal(pathOf(response.headers.get('location') ?? ''), `/v2/${repository}/blobs/${blob.digest}`);
      await assertServed(repository, blob);
    });

    it('PUT on a Location that already carries a query, with &digest= appended → 201', async () => {
      const repository = freshRepository();
      const blob = content('query carrying location');
      const location = new URL(await startUpload(registry.url, repository));
      location.searchParams.set('_state', 'opaque-client-state');
      const response = await fetch(`${location.toString()}&digest=${blob.digest}`, { method: 'PUT', body: bodyOf(blob.bytes) });
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      await assertServed(repository, blob);
    });

    // Bodies of 1 MiB or more (or of unknown length) are hashed on a worker thread (stream-digest.ts).
    it('large bodies: monolithic, chunked, a small PATCH after a large one, and a final PUT body → each 201 and served', async () => {
      const repository = freshRepository();
      const mono = randomContent(3 * 1024 * 1024 + 17);
      const posted = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/?digest=${mono.digest}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(mono.size) },
        body: bodyOf(mono.bytes),
      });
      await posted.arrayBuffer();
      assert.equal(posted.status, 201);
      await assertServed(repository, mono);

      const chunked = randomContent(5 * 1024 * 1024 + 3);
      let location = await startUpload(registry.url, repository);
      const cuts = [0, 1_600_000, 3_300_000, 3_400_000, chunked.size - 50_000];
      for (let i = 0; i + 1 < cuts.length; i++) {
        const start = cuts[i] as number;
        const end = cuts[i + 1] as number;
        const response = await patch(location, chunked.bytes.subarray(start, end), { 'Content-Range': `${start}-${end - 1}` });
        await response.arrayBuffer();
        assert.equal(response.status, 202);
        location = new URL(response.headers.get('location') ?? '', registry.url).toString();
      }
      const tail = chunked.bytes.subarray(cuts[cuts.length - 1]);
      const done = await fetch(withDigest(location, chunked.digest), {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(tail.length) },
        body: bodyOf(tail),
      });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      await assertServed(repository, chunked);
    });

    it('a large body that hashes differently → 400 DIGEST_INVALID and nothing is served', async () => {
      const repository = freshRepository();
      const blob = randomContent(2 * 1024 * 1024);
      const claimed = randomContent(100).digest;
      const before = uploadFiles(registry.dataDir);
      const response = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/?digest=${claimed}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
        body: bodyOf(blob.bytes),
      });
      await assertError(response, 400, 'DIGEST_INVALID');
      await assertNotServed(repository, claimed);
      await assertNotServed(repository, blob.digest);
      assert.deepEqual(uploadFiles(registry.dataDir), before, 'no upload file is left behind');
    });

    it('PATCH with no Content-Range, chunked transfer coding (streamed) → 202 with Range; PUT completes → 201', async () => {
      const repository = freshRepository();
      const blob = randomContent(200_000);
      const location = await startUpload(registry.url, repository);
      const chunks = [blob.bytes.subarray(0, 1000), blob.bytes.subarray(1000, 150_000), blob.bytes.subarray(150_000)];
      const patched = await rawRequest(registry.url, { method: 'PATCH', path: pathOf(location), headers: { 'Content-Type': 'application/octet-stream' }, body: chunks });
      assert.equal(patched.status, 202, patched.body.toString());
      assert.equal(patched.headers['range'], `0-${blob.size - 1}`);
      assert.ok(patched.headers['location'] !== undefined);
      assert.equal(patched.headers['docker-upload-uuid'], location.split('/').pop());
      const done = await fetch(withDigest(new URL(patched.headers['location'] ?? '', registry.url).toString(), blob.digest), { method: 'PUT' });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      await assertServed(repository, blob);
    });

    it('PATCH with chunked transfer coding whose body is longer than its Content-Range → 400 BLOB_UPLOAD_INVALID, nothing past the range stored', async () => {
      const repository = freshRepository();
      const location = await startUpload(registry.url, repository);
      const patched = await rawRequest(registry.url, {
        method: 'PATCH',
        path: pathOf(location),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-4' },
        body: [Buffer.from('0123456789')],
      });
      assert.equal(patched.status, 400);
      assert.equal((JSON.parse(patched.body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'BLOB_UPLOAD_INVALID');
      const status = await fetch(location);
      await status.arrayBuffer();
      assert.equal(status.status, 204);
      const end = Number((status.headers.get('range') ?? '0-0').split('-')[1]);
      assert.ok(end <= 4, `stored range ${status.headers.get('range')} stays within the declared 0-4`);
    });

    it('PATCH chunks with Content-Range in order → 202 each with Range 0-<end>; PUT with the last chunk → 201', async () => {
      const repository = freshRepository();
      const blob = randomContent(30_000);
      let location = await startUpload(registry.url, repository);
      for (const [start, end] of [[0, 9_999], [10_000, 19_999]] as const) {
        const response = await patch(location, blob.bytes.subarray(start, end + 1), { 'Content-Range': `${start}-${end}` });
        await response.arrayBuffer();
        assert.equal(response.status, 202);
        assert.equal(response.headers.get('range'), `0-${end}`);
        location = new URL(response.headers.get('location') ?? '', registry.url).toString();
      }
      const last = blob.bytes.subarray(20_000);
      const response = await fetch(withDigest(location, blob.digest), {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(last.length), 'Content-Range': `20000-${blob.size - 1}` },
        body: bodyOf(last),
      });
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      await assertServed(repository, blob);
    });

    it('PATCH out of order → 416 with Range and Location; the upload continues from the stored offset', async () => {
      const repository = freshRepository();
      const blob = randomContent(3000);
      const location = await startUpload(registry.url, repository);
      const first = await patch(location, blob.bytes.subarray(0, 1000), { 'Content-Range': '0-999' });
      await first.arrayBuffer();
      assert.equal(first.status, 202);
      const skipped = await patch(location, blob.bytes.subarray(2000, 3000), { 'Content-Range': '2000-2999' });
      await skipped.arrayBuffer();
      assert.equal(skipped.status, 416);
      assert.equal(skipped.headers.get('range'), '0-999');
      assert.equal(pathOf(skipped.headers.get('location') ?? ''), pathOf(location));
      const repeated = await patch(location, blob.bytes.subarray(0, 1000), { 'Content-Range': '0-999' });
      await repeated.arrayBuffer();
      assert.equal(repeated.status, 416, 'a chunk already stored is out of order too');
      assert.equal(repeated.headers.get('range'), '0-999');
      const rest = await patch(location, blob.bytes.subarray(1000), { 'Content-Range': '1000-2999' });
      await rest.arrayBuffer();
      assert.equal(rest.status, 202);
      const done = await fetch(withDigest(location, blob.digest), { method: 'PUT' });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      await assertServed(repository, blob);
    });

    it('PATCH with a malformed Content-Range → 400 BLOB_UPLOAD_INVALID', async () => {
      const location = await startUpload(registry.url, freshRepository());
      await assertError(await patch(location, Buffer.from('abc'), { 'Content-Range': 'abc' }), 400, 'BLOB_UPLOAD_INVALID');
    });

    it('PATCH whose Content-Length disagrees with Content-Range → 400 BLOB_UPLOAD_INVALID', async () => {
      const location = await startUpload(registry.url, freshRepository());
      await assertError(await patch(location, Buffer.from('abcdef'), { 'Content-Range': '0-9' }), 400, 'BLOB_UPLOAD_INVALID');
    });

    it('GET upload status → 204 with Range 0-<offset-1>, Location and Docker-Upload-UUID', async () => {
      const location = await startUpload(registry.url, freshRepository());
      const fresh = await fetch(location);
      await fresh.arrayBuffer();
      assert.equal(fresh.status, 204);
      assert.equal(fresh.headers.get('range'), '0-0');
      const chunk = await patch(location, Buffer.alloc(1234, 7));
      await chunk.arrayBuffer();
      assert.equal(chunk.status, 202);
      const status = await fetch(location);
      await status.arrayBuffer();
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-1233');
      assert.equal(status.headers.get('docker-upload-uuid'), location.split('/').pop());
      assert.equal(pathOf(status.headers.get('location') ?? ''), pathOf(location));
    });

    it('DELETE upload → 204; then GET status, PATCH and PUT → 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const location = await startUpload(registry.url, freshRepository());
      const chunk = await patch(location, Buffer.from('some bytes'));
      await chunk.arrayBuffer();
      const cancelled = await fetch(location, { method: 'DELETE' });
      await cancelled.arrayBuffer();
      assert.equal(cancelled.status, 204);
      await assertError(await fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertError(await patch(location, Buffer.from('more')), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertError(await fetch(withDigest(location, content('some bytes').digest), { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertError(await fetch(location, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('GET/PATCH/PUT/DELETE an unknown or malformed upload id → 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const repository = freshRepository();
      await pushBlob(registry.url, repository, content('makes the repository exist'));
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-upload-id', '.x', 'x'.repeat(300)]) {
        const base = `${registry.url}/v2/${repository}/blobs/uploads/${id}`;
        await assertError(await fetch(base), 404, 'BLOB_UPLOAD_UNKNOWN', `GET ${id}`);
        await assertError(await patch(base, Buffer.from('x')), 404, 'BLOB_UPLOAD_UNKNOWN', `PATCH ${id}`);
        await assertError(await fetch(`${base}?digest=${content('x').digest}`, { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN', `PUT ${id}`);
        await assertError(await fetch(base, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN', `DELETE ${id}`);
      }
    });

    it('an upload id of one repository is unknown in another → 404 BLOB_UPLOAD_UNKNOWN', async () => {
      const location = await startUpload(registry.url, freshRepository());
      const id = location.split('/').pop() ?? '';
      await assertError(await fetch(`${registry.url}/v2/${freshRepository()}/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('PUT with the wrong digest → 400 DIGEST_INVALID and the blob is not served afterwards', async () => {
      const repository = freshRepository();
      const blob = randomContent(5000);
      const wrong = content('not these bytes').digest;
      const location = await startUpload(registry.url, repository);
      await (await patch(location, blob.bytes)).arrayBuffer();
      await assertError(await fetch(withDigest(location, wrong), { method: 'PUT' }), 400, 'DIGEST_INVALID');
      await assertNotServed(repository, wrong);
      await assertNotServed(repository, blob.digest);
    });

    it('PUT without a digest query → 400 DIGEST_INVALID; with a malformed one → 400 DIGEST_INVALID', async () => {
      const location = await startUpload(registry.url, freshRepository());
      await assertError(await fetch(location, { method: 'PUT' }), 400, 'DIGEST_INVALID');
      await assertError(await fetch(`${location}?digest=sha256:nothex`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
    });

    it('upload with a sha512 digest → 201, served under the sha512 digest', async () => {
      const repository = freshRepository();
      const blob = content(randomContent(9000).bytes, 'sha512');
      const location = await startUpload(registry.url, repository);
      await (await patch(location, blob.bytes)).arrayBuffer();
      const done = await fetch(withDigest(location, blob.digest), { method: 'PUT' });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      assert.equal(done.headers.get('docker-content-digest'), blob.digest);
      await assertServed(repository, blob);
      const monolithic = content('sha512 monolithic', 'sha512');
      await pushBlob(registry.url, repository, monolithic);
      await assertServed(repository, monolithic);
    });

    it('zero-length blob: POST then PUT ?digest= with no body → 201 and served empty', async () => {
      const repository = freshRepository();
      const empty = content('');
      const location = await startUpload(registry.url, repository);
      const done = await fetch(withDigest(location, empty.digest), { method: 'PUT' });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      await assertServed(repository, empty);
    });

    it('POST ?mount=&from= of a blob in another repository → 201 with Location', async () => {
      const source = freshRepository('source');
      const target = freshRepository('target');
      const blob = randomContent(1000);
      await pushBlob(registry.url, source, blob);
      const response = await fetch(`${registry.url}/v2/${target}/blobs/uploads/?mount=${blob.digest}&from=${source}`, { method: 'POST' });
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('docker-content-digest'), blob.digest);
      assert.equal(pathOf(response.headers.get('location') ?? ''), `/v2/${target}/blobs/${blob.digest}`);
      await assertServed(target, blob);
    });

    it('POST ?mount= without from of a blob the registry holds → 201', async () => {
      const source = freshRepository('source');
      const target = freshRepository('target');
      const blob = randomContent(1000);
      await pushBlob(registry.url, source, blob);
      const response = await fetch(`${registry.url}/v2/${target}/blobs/uploads/?mount=${blob.digest}`, { method: 'POST' });
      await response.arrayBuffer();
      assert.equal(response.status, 201);
      await assertServed(target, blob);
    });

    it('POST ?mount= of a blob that is absent (or not in from) → 202, a normal upload session', async () => {
      const source = freshRepository('source');
      await pushBlob(registry.url, source, content('source has something'));
      const target = freshRepository('target');
      const absent = content('never pushed anywhere');
      for (const query of [`mount=${absent.digest}&from=${source}`, `mount=${absent.digest}`, `mount=${content('source has something').digest}&from=${freshRepository('empty')}`]) {
        const response = await fetch(`${registry.url}/v2/${target}/blobs/uploads/?${query}`, { method: 'POST' });
        await response.arrayBuffer();
        assert.equal(response.status, 202, query);
        assert.ok(response.headers.get('location') !== null);
        assert.match(response.headers.get('docker-upload-uuid') ?? '', UUID);
      }
      const location = await startUpload(registry.url, target);
      const done = await fetch(withDigest(location, absent.digest), { method: 'PUT', body: bodyOf(absent.bytes) });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
    });

    it('POST ?mount= with a malformed digest → 400 DIGEST_INVALID', async () => {
      const response = await fetch(`${registry.url}/v2/${freshRepository()}/blobs/uploads/?mount=sha256:short&from=${freshRepository()}`, { method: 'POST' });
      await assertError(response, 400, 'DIGEST_INVALID');
    });

    it('POST ?digest= with a malformed digest → 400 DIGEST_INVALID', async () => {
      const response = await fetch(`${registry.url}/v2/${freshRepository()}/blobs/uploads/?digest=md5:abc`, { method: 'POST', body: 'x' });
      await assertError(response, 400, 'DIGEST_INVALID');
    });

    it('a blob uploaded twice (same digest) → 201 both times and served once', async () => {
      const repository = freshRepository();
      const blob = randomContent(2048);
      await pushBlob(registry.url, repository, blob);
      await pushBlob(registry.url, repository, blob);
      await assertServed(repository, blob);
    });
  });
}

describe('uploads with http.host set', () => {
  let registry: TestRegistry;
  const host = 'https://registry.example.com';
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_HTTP_HOST: host } });
  });
  after(async () => {
    await registry.stop();
  });

  it('every Location is absolute under http.host: POST 202, PATCH 202, PATCH 416, GET status, PUT 201', async () => {
    const repository = freshRepository();
    const blob = content('absolute locations');
    const post = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    await post.arrayBuffer();
    const location = post.headers.get('location') ?? '';
    assert.ok(location.startsWith(`${host}/v2/${repository}/blobs/uploads/`), `POST Location ${location}`);
    const local = `${registry.url}${pathOf(location)}`;
    const patched = await fetch(local, { method: 'PATCH', body: bodyOf(blob.bytes) });
    await patched.arrayBuffer();
    assert.equal(patched.headers.get('location'), location, 'PATCH 202 Location');
    const skipped = await fetch(local, { method: 'PATCH', headers: { 'Content-Range': '100-101' }, body: 'xx' });
    await skipped.arrayBuffer();
    assert.equal(skipped.status, 416);
    assert.equal(skipped.headers.get('location'), location, 'PATCH 416 Location');
    const status = await fetch(local);
    await status.arrayBuffer();
    assert.equal(status.headers.get('location'), location, 'GET status Location');
    const done = await fetch(`${local}?digest=${blob.digest}`, { method: 'PUT' });
    await done.arrayBuffer();
    assert.equal(done.status, 201);
    assert.equal(done.headers.get('location'), `${host}/v2/${repository}/blobs/${blob.digest}`);
  });
});
