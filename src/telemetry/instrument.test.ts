// instrument(): every method observed once per call with its outcome, on the metrics-only fast path
// (timingProbe alone) and on the composed path (metrics with another probe), with the object's
// behaviour unchanged: results, rejections, throws, `this`, getters, absent optional methods.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { instrument, probes, timingProbe, type ActionProbe } from './instrument.js';

class Base {
  base(): string {
    return 'base';
  }
}

class Store extends Base {
  readonly rows = new Map([['a', 1]]);
  calls = 0;
  get size(): number {
    return this.rows.size;
  }
  get(key: string): Promise<number | undefined> {
    this.calls++;
    return Promise.resolve(this.rows.get(key));
  }
  async slow(ms: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  }
  fails(): Promise<never> {
    return Promise.reject(new Error('rejected'));
  }
  throws(): never {
    throw new Error('thrown');
  }
  plain(x: number, y: number): number {
    return x + y;
  }
}

interface Seen {
  readonly action: string;
  readonly seconds: number;
  readonly failed: boolean;
}

function metricsProbe(seen: Seen[]): ActionProbe {
  return timingProbe((action) => (action === 'unobserved' ? undefined : (seconds, failed) => seen.push({ action, seconds, failed })));
}

/** A second probe, as tracing is: counts starts and ends. */
function countingProbe(counts: { starts: number; ends: number }): ActionProbe {
  return () => () => {
    counts.starts++;
    return () => counts.ends++;
  };
}

for (const composed of [false, true]) {
  test(`instrument ${composed ? 'with metrics and another probe' : 'with metrics alone'}: each call observed once, with its outcome`, async () => {
    const seen: Seen[] = [];
    const counts = { starts: 0, ends: 0 };
    const raw = new Store();
    const store = instrument(raw, composed ? probes(metricsProbe(seen), countingProbe(counts)) : metricsProbe(seen));
    assert.notEqual(store, raw);
    assert.equal(await store.get('a'), 1);
    assert.equal(raw.calls, 1, 'the method runs on the object itself');
    assert.equal(await store.slow(20), 20);
    await assert.rejects(store.fails(), /rejected/);
    assert.throws(() => store.throws(), /thrown/);
    assert.equal(store.plain(2, 3), 5);
    assert.equal(store.base(), 'base', 'inherited methods are wrapped too');
    assert.equal(store.size, 1, 'getters read through');
    assert.deepEqual(
      seen.map(({ action, failed }) => [action, failed]),
      [
        ['get', false],
        ['slow', false],
        ['fails', true],
        ['throws', true],
        ['plain', false],
        ['base', false],
      ],
    );
    const slow = seen.find((s) => s.action === 'slow');
    assert.ok(slow !== undefined && slow.seconds >= 0.015 && slow.seconds < 60, `slow took ${slow?.seconds}s: measured until the promise settled`);
    for (const s of seen) assert.ok(s.seconds >= 0);
    if (composed) assert.deepEqual(counts, { starts: 6, ends: 6 });
  });
}

test('instrument: actions without an observer still forward; absent optional methods stay absent; no probe returns the object', () => {
  const seen: Seen[] = [];
  const target = Object.assign(new Store(), { unobserved: (x: number) => x * 2 });
  const store = instrument(target as Store & { unobserved(x: number): number; copyTo?: () => void }, metricsProbe(seen));
  assert.equal(store.unobserved(4), 8);
  assert.equal(seen.length, 0);
  assert.equal(store.copyTo, undefined);
  const raw = new Store();
  assert.equal(instrument(raw, undefined), raw);
  assert.equal(instrument(raw, probes(undefined, undefined)), raw);
});

test('the proxy of an object with many methods stays in V8\'s fast mode (no hash lookup per method load)', () => {
  // In a child with --allow-natives-syntax: a store with 60 methods, like the metadata stores.
  const script = `
    const { instrument, timingProbe } = await import(${JSON.stringify(new URL('./instrument.js', import.meta.url).href)});
    class Wide {}
    for (let i = 0; i < 60; i++) Wide.prototype['m' + i] = function () { return Promise.resolve(i); };
    const proxy = instrument(new Wide(), timingProbe(() => () => {}));
    async function use() { let sum = 0; for (let i = 0; i < 60; i++) sum += await proxy['m' + i](); return sum; }
    for (let i = 0; i < 20; i++) await use();
    console.log(JSON.stringify({ own: %HasFastProperties(proxy), methods: %HasFastProperties(Object.getPrototypeOf(proxy)), sum: await use() }));
  `;
  const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { own: true, methods: true, sum: 1770 });
});
