import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { HashWorker, inlineDigest, offloadedDigest, offloads, OFFLOAD_MIN, type StreamDigest } from './stream-digest.js';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Feeds bytes in chunks of varying size, waiting whenever the digest asks to. */
async function feed(digest: StreamDigest, bytes: Buffer, chunk = 65_536): Promise<number> {
  let waits = 0;
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = Math.min(bytes.length - at, 1 + ((chunk * (i % 3)) % (chunk + 7)) + (i % 2) * 13);
    const wait = digest.update(bytes.subarray(at, at + size));
    at += size;
    if (wait !== undefined) {
      waits++;
      await wait;
    }
  }
  return waits;
}

describe('stream digests', () => {
  it('large or unknown lengths go to the worker thread, small ones stay inline', () => {
    assert.equal(offloads(undefined), true);
    assert.equal(offloads(OFFLOAD_MIN), true);
    assert.equal(offloads(OFFLOAD_MIN - 1), false);
    assert.equal(offloads(0), false);
  });

  it('the worker thread hashes exactly what is fed, across block boundaries', async () => {
    for (const size of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 5 * 1024 * 1024 + 3]) {
      const bytes = randomBytes(size);
      const digest = offloadedDigest();
      await feed(digest, bytes);
      assert.equal(await digest.digest(), sha256(bytes), `${size} bytes`);
    }
  });

  it('digests fed in turns do not mix, and a dropped one leaves the others alone', async () => {
    const a = randomBytes(3 * 1024 * 1024 + 5);
    const b = randomBytes(2 * 1024 * 1024 + 9);
    const [da, db, dropped] = [offloadedDigest(), offloadedDigest(), offloadedDigest()];
    void dropped.update(randomBytes(2 * 1024 * 1024));
    for (let at = 0; at < Math.max(a.length, b.length); at += 100_000) {
      await da.update(a.subarray(at, at + 100_000));
      await db.update(b.subarray(at, at + 100_000));
      if (at === 500_000) dropped.dispose();
    }
    assert.deepEqual(await Promise.all([da.digest(), db.digest()]), [sha256(a), sha256(b)]);
  });

  it('a body fed faster than the worker hashes is asked to wait, and the digest is still right', async () => {
    const bytes = randomBytes(64 * 1024 * 1024);
    const digest = offloadedDigest();
    // 4 MiB at a time, without yielding in between: more than the limit is soon in flight.
    const waits = await feed(digest, bytes, 4 * 1024 * 1024);
    assert.ok(waits > 0, 'the digest never asked the caller to wait');
    assert.equal(await digest.digest(), sha256(bytes));
  });

  it('inline digests agree with the worker', async () => {
    const bytes = randomBytes(1_500_000);
    const inline = inlineDigest();
    assert.equal(await feed(inline, bytes), 0);
    assert.equal(await inline.digest(), sha256(bytes));
  });

  it('a worker that dies fails the digests running on it, and the next digest gets a fresh worker', async () => {
    const worker = new HashWorker({ script: new URL('../../test/support/failing-hash-worker.js', import.meta.url) });
    const running = offloadedDigest(worker);
    await feed(running, randomBytes(2 * 1024 * 1024 + 1));
    const first = worker.threadId;
    assert.notEqual(first, undefined);
    // Its one block of 777 bytes, sent with the digest request, is the one the worker dies on.
    const failing = offloadedDigest(worker);
    await feed(failing, randomBytes(777));
    await assert.rejects(failing.digest(), /the hash worker exited \(70\)/);
    await assert.rejects(running.digest(), /the hash worker exited \(70\)/, 'a digest running beside it fails too: its hash was on that thread');
    const next = offloadedDigest(worker);
    const bytes = randomBytes(3 * 1024 * 1024);
    await feed(next, bytes);
    assert.equal(await next.digest(), sha256(bytes));
    assert.notEqual(worker.threadId, first, 'a new thread');
  });

  it('an idle worker stops, a running digest keeps it, and the next digest starts it again', async () => {
    const worker = new HashWorker({ idleMs: 30 });
    const bytes = randomBytes(OFFLOAD_MIN + 17);
    const first = offloadedDigest(worker);
    await feed(first, bytes);
    assert.equal(await first.digest(), sha256(bytes));
    const firstThread = worker.threadId;
    assert.notEqual(firstThread, undefined);
    for (const deadline = Date.now() + 5000; worker.threadId !== undefined; await new Promise((resolve) => setTimeout(resolve, 10))) {
      assert.ok(Date.now() < deadline, 'the idle worker did not stop');
    }
    // A registered digest holds its running hash on the thread: no stop while it lasts.
    const held = offloadedDigest(worker);
    await feed(held, bytes.subarray(0, OFFLOAD_MIN));
    const heldThread = worker.threadId;
    assert.notEqual(heldThread, undefined);
    assert.notEqual(heldThread, firstThread, 'started again');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(worker.threadId, heldThread, 'still up while a digest runs');
    await feed(held, bytes.subarray(OFFLOAD_MIN));
    assert.equal(await held.digest(), sha256(bytes));
  });
});
