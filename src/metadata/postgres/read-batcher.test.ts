import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadBatcher } from './read-batcher.js';

/** A fetch that records each batch and answers when told. */
function controlled(): { batches: string[][]; fetch: (keys: readonly string[]) => Promise<string[]>; release(): void } {
  const batches: string[][] = [];
  const gates: Array<() => void> = [];
  return {
    batches,
    fetch: (keys) => {
      batches.push([...keys]);
      return new Promise((resolve) => gates.push(() => resolve(keys.map((key) => `row of ${key}`))));
    },
    release: () => {
      for (const gate of gates.splice(0)) gate();
    },
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('reads of one turn go out as one batch; equal keys share a row; each caller gets its own row', async () => {
  const io = controlled();
  const batcher = new ReadBatcher<string, string>(io.fetch, (key) => key, { maxInFlight: 1 });
  const reads = [batcher.load('a'), batcher.load('b'), batcher.load('a')];
  await turn();
  assert.deepEqual(io.batches, [['a', 'b']]);
  io.release();
  assert.deepEqual(await Promise.all(reads), ['row of a', 'row of b', 'row of a']);
});

test('a read that arrives while a batch is out never joins it: it goes in the next batch, sent when one finishes', async () => {
  const io = controlled();
  const batcher = new ReadBatcher<string, string>(io.fetch, (key) => key, { maxInFlight: 1 });
  const first = batcher.load('a');
  await turn();
  assert.deepEqual(io.batches, [['a']]);
  // The same key again, after the first query left (a write may have been acknowledged meanwhile).
  const second = batcher.load('a');
  const third = batcher.load('c');
  await turn();
  assert.equal(io.batches.length, 1, 'one batch in flight at most');
  io.release();
  assert.equal(await first, 'row of a');
  await turn();
  assert.deepEqual(io.batches[1], ['a', 'c'], 'a fresh query for the later reads');
  io.release();
  assert.deepEqual(await Promise.all([second, third]), ['row of a', 'row of c']);
});

test('a failed batch rejects every read in it; later reads go on', async () => {
  let calls = 0;
  const batcher = new ReadBatcher<string, string>(
    (keys) => {
      calls++;
      return calls === 1 ? Promise.reject(new Error('connection lost')) : Promise.resolve(keys.map((key) => key.toUpperCase()));
    },
    (key) => key,
    { maxInFlight: 2 },
  );
  const failed = await Promise.allSettled([batcher.load('x'), batcher.load('y')]);
  assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
  assert.equal(await batcher.load('z'), 'Z');
});

test('batches are cut at maxBatch; the rest go out beside them up to maxInFlight', async () => {
  const io = controlled();
  const batcher = new ReadBatcher<string, string>(io.fetch, (key) => key, { maxInFlight: 2, maxBatch: 2 });
  const reads = ['a', 'b', 'c', 'd', 'e'].map((key) => batcher.load(key));
  await turn();
  assert.deepEqual(io.batches, [['a', 'b'], ['c', 'd']]);
  io.release();
  await turn();
  await turn();
  assert.deepEqual(io.batches[2], ['e']);
  io.release();
  assert.equal((await Promise.all(reads)).length, 5);
});
