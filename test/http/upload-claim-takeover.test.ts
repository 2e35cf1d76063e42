// An upload whose writer was killed with kill -9 in the middle of a PATCH, on S3 + PostgreSQL with
// two instances: the dead instance's claim on the session keeps the other one out until it expires
// (400 BLOB_UPLOAD_INVALID, as for a live writer), then the other instance takes the session over and
// continues from the last acknowledged offset, with the running hash the store saved; the bytes of
// the killed PATCH were never acknowledged and are not part of the blob. The claim is shortened to
// 3 s for the test (BERTH_TEST_UPLOAD_CLAIM_MS; 60 s otherwise).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startScaleOut, type ScaleOut } from '../support/scale-out.js';

const CLAIM_MS = 3000;
const MIB = 1024 * 1024;

describe('kill -9 of the writer of an upload (two instances, S3 + PostgreSQL)', () => {
  let cluster: ScaleOut;
  before(async () => {
    cluster = await startScaleOut('claim', 2, { BERTH_TEST_UPLOAD_CLAIM_MS: String(CLAIM_MS) });
  });
  after(() => cluster?.close());

  it('the claim of the killed instance refuses the other one until it expires, which then finishes the upload', async () => {
    const [a, b] = cluster.instances;
    assert.ok(a !== undefined && b !== undefined);
    const repository = 'claims/app';
    const first = randomBytes(6 * MIB);
    const second = randomBytes(6 * MIB);
    const started = await fetch(`${a.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    await started.arrayBuffer();
    assert.equal(started.status, 202);
    const path = new URL(started.headers.get('location') ?? '', a.url).pathname + new URL(started.headers.get('location') ?? '', a.url).search;
    const patched = await fetch(`${a.url}${path}`, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${first.length - 1}` }, body: new Uint8Array(first) });
    await patched.arrayBuffer();
    assert.equal(patched.status, 202, 'the first chunk is acknowledged');

    // A second PATCH to A that A never finishes: half of its body, then kill -9.
    const target = new URL(`${a.url}${path}`);
    const hanging = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(second.length), 'Content-Range': `${first.length}-${first.length + second.length - 1}` } });
    hanging.on('error', () => undefined);
    hanging.write(second.subarray(0, 3 * MIB));
    await delay(500);
    await a.stop('SIGKILL');
    hanging.destroy();

    const resume = async (): Promise<Response> =>
      fetch(`${b.url}${path}`, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${first.length}-${first.length + second.length - 1}` }, body: new Uint8Array(second) });
    const refused = await resume();
    assert.equal(refused.status, 400, 'the dead writer\'s claim still holds');
    assert.equal(((await refused.json()) as { errors: { code: string }[] }).errors[0]?.code, 'BLOB_UPLOAD_INVALID');

    await delay(CLAIM_MS + 500);
    const status = await fetch(`${b.url}${path}`);
    await status.arrayBuffer();
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${first.length - 1}`, 'only the acknowledged chunk counts');
    const resumed = await resume();
    await resumed.arrayBuffer();
    assert.equal(resumed.status, 202, 'taken over once the claim expired');

    const whole = Buffer.concat([first, second]);
    const digest = `sha256:${createHash('sha256').update(whole).digest('hex')}`;
    const put = await fetch(`${b.url}${path}${path.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' });
    await put.arrayBuffer();
    assert.equal(put.status, 201);
    const blob = Buffer.from(await (await fetch(`${b.url}/v2/${repository}/blobs/${digest}`)).arrayBuffer());
    assert.equal(blob.length, whole.length);
    assert.ok(blob.equals(whole), 'the blob is the two acknowledged chunks, byte for byte');
  });
});
