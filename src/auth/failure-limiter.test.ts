import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailureLimiter } from './failure-limiter.js';

test('failure limiter: blocks a client past the limit until its window ends, others are not affected', async () => {
  const limiter = new FailureLimiter({ attempts: 2, windowMs: 300, delayMs: 0 });
  assert.equal(await limiter.blocked('a'), undefined);
  await limiter.fail('a');
  assert.equal(await limiter.blocked('a'), undefined);
  await limiter.fail('a');
  assert.equal(await limiter.blocked('a'), 1);
  assert.equal(await limiter.blocked('b'), undefined);
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.equal(await limiter.blocked('a'), undefined);
});

test('failure limiter: each failure is answered later than the one before, up to 2 s', async () => {
  const limiter = new FailureLimiter({ attempts: 100, windowMs: 60_000, delayMs: 20 });
  const time = async (): Promise<number> => {
    const started = performance.now();
    await limiter.fail('c');
    return performance.now() - started;
  };
  const first = await time();
  const second = await time();
  const third = await time();
  assert.ok(first >= 15 && second >= 35 && third >= 55, `${first} ${second} ${third}`);
});
