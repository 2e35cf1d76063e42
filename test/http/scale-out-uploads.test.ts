// Uploads across instances: three `berth serve` processes over one S3 bucket and one PostgreSQL
// database. A session POSTed on A is PATCHed on B and C and completed on A; its running hash travels
// in the session's shared state (UploadState). Two PATCHes racing on two instances: one wins, the
// other is refused, and the blob holds the winner's bytes only.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openRequest, pathOf, rawRequest } from '../support/raw-http.js';
import { startUpload, withDigest } from '../support/push.js';
import { startScaleOut, type ScaleOut } from '../support/scale-out.js';

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('uploads across three instances (S3 + PostgreSQL)', () => {
  let cluster: ScaleOut;
  let db: pg.Client;
  before(async () => {
    cluster = await startScaleOut('scale-uploads', 3);
    db = new pg.Client({ connectionString: cluster.database.url });
    await db.connect();
  });
  after(async () => {
    await db?.end();
    await cluster?.close();
  });

  const uploadRow = async (id: string): Promise<{ hashed_offset: number; hash_state: Buffer | null; writer: string | null } | undefined> =>
    (await db.query('SELECT hashed_offset::int AS hashed_offset, hash_state, writer FROM uploads WHERE id = $1', [id])).rows[0] as never;

  it('POST on A, PATCH on B, PATCH on C, PUT with the last chunk on A: the blob is whole, served by every instance', async () => {
    const [a, b, c] = cluster.instances as [typeof cluster.instances[0], typeof cluster.instances[0], typeof cluster.instances[0]];
    // Larger than a part (5 MiB) so that S3 appends copy server-side, in uneven chunks.
    const chunks: [Buffer, Buffer, Buffer] = [randomBytes(6 * 1024 * 1024 + 17), randomBytes(1024 * 1024 + 3), randomBytes(4099)];
    const whole = Buffer.concat(chunks);
    const digest = sha256(whole);
    const location = await startUpload(a.url, 'scale/across');
    const id = new URL(location).pathname.split('/').pop() as string;
    let offset = 0;
    for (const [instance, chunk] of [[b, chunks[0]], [c, chunks[1]]] as const) {
      const response = await rawRequest(instance.url, {
        method: 'PATCH',
        path: pathOf(location),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
      });
      assert.equal(response.status, 202, response.body.toString());
      offset += chunk.length;
      assert.equal(response.headers.range, `0-${offset - 1}`);
      // The running hash is in the session's shared state, covering every byte stored.
      const row = await uploadRow(id);
      assert.equal(row?.hashed_offset, offset);
      assert.ok(row?.hash_state !== null && row?.hash_state !== undefined, 'a saved hash state');
      assert.equal(row?.writer, null, 'the writer released its claim');
    }
    const status = await fetch(location.replace(new URL(location).origin, c.url));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${offset - 1}`);
    const put = await rawRequest(a.url, {
      method: 'PUT',
      path: pathOf(withDigest(location, digest)),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${whole.length - 1}` },
      body: chunks[2],
    });
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(await uploadRow(id), undefined, 'the session ended');
    for (const instance of cluster.instances) {
      const got = await fetch(`${instance.url}/v2/scale/across/blobs/${digest}`);
      assert.equal(got.status, 200);
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), digest);
    }
  });

  it('two PATCHes of one session racing on two instances: one 202, the other refused; the blob is the winner\'s bytes', async () => {
    const [a, b] = cluster.instances as [typeof cluster.instances[0], typeof cluster.instances[0]];
    const location = await startUpload(a.url, 'scale/race');
    const id = new URL(location).pathname.split('/').pop() as string;
    const winner = randomBytes(2 * 1024 * 1024);
    const loser = randomBytes(2 * 1024 * 1024);
    const half = winner.length / 2;
    // A's PATCH sends half its body and waits: it has claimed the session meanwhile.
    const first = openRequest(a.url, {
      path: pathOf(location),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${winner.length - 1}`, 'Content-Length': winner.length },
      firstPart: winner.subarray(0, half),
    });
    await until('A to claim the session', async () => ((await uploadRow(id))?.writer ? true : undefined));
    const second = await rawRequest(b.url, {
      method: 'PATCH',
      path: pathOf(location),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${loser.length - 1}` },
      body: loser,
    });
    assert.ok(second.status === 416 || second.status === 400, `the racing PATCH got ${second.status}`);
    if (second.status === 400) assert.equal((JSON.parse(second.body.toString()) as { errors: { code: string }[] }).errors[0]?.code, 'BLOB_UPLOAD_INVALID');
    first.req.end(winner.subarray(half));
    const done = await first.done;
    if (done instanceof Error) throw done;
    assert.equal(done.status, 202, done.body.toString());
    const put = await fetch(withDigest(location.replace(new URL(location).origin, b.url), sha256(winner)), { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
    const got = await fetch(`${b.url}/v2/scale/race/blobs/${sha256(winner)}`);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), winner);
  });
});
