// A Range GET of a blob the pull-through cache does not hold yet: answered 206 with the slice once the
// whole blob arrived from the upstream and was verified and stored (a slice sent earlier would be
// bytes nobody verified), with one upstream GET; later ranges come from the cache. The upstream is
// another Berth behind a proxy that counts its requests.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { content } from '../support/content.js';
import { assertError } from '../support/error-envelope.js';
import type { FaultProxy } from '../support/fault-proxy.js';
import { pushBlob } from '../support/push.js';
import { startProxyChain, type ProxyChain } from '../support/proxy-chain.js';
import type { TestRegistry } from '../support/test-registry.js';

describe('pull-through cache: Range on a cold blob', () => {
  let chain: ProxyChain;
  let upstream: TestRegistry;
  let counter: FaultProxy;
  let mirror: TestRegistry;
  before(async () => {
    chain = await startProxyChain();
    ({ upstream, faults: counter, mirror } = chain);
  });
  after(() => chain.stop());

  it('206 with the slice and its Content-Range, one upstream GET; the next range is served from the cache', async () => {
    const blob = content(randomBytes(3 * 1024 * 1024));
    await pushBlob(upstream.url, 'cache/ranges', blob);
    const path = `/v2/cache/ranges/blobs/${blob.digest}`;
    const ranged = await fetch(`${mirror.url}${path}`, { headers: { Range: 'bytes=1000-1999' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 1000-1999/${blob.size}`);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(blob.bytes.subarray(1000, 2000)));
    assert.equal(counter.count('GET', path), 1);
    const tail = await fetch(`${mirror.url}${path}`, { headers: { Range: `bytes=-10` } });
    assert.equal(tail.status, 206);
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(blob.bytes.subarray(blob.size - 10)));
    assert.equal(counter.count('GET', path), 1, 'cached: the upstream is not asked again');
  });

  it('a range past the end of a cold blob → 416 SIZE_INVALID (as for a stored blob) once its size is known (the blob is cached anyway)', async () => {
    const blob = content(randomBytes(4096));
    await pushBlob(upstream.url, 'cache/ranges', blob);
    const path = `/v2/cache/ranges/blobs/${blob.digest}`;
    const response = await fetch(`${mirror.url}${path}`, { headers: { Range: `bytes=${blob.size + 10}-` } });
    await assertError(response, 416, 'SIZE_INVALID');
    assert.equal(response.headers.get('content-range'), `bytes */${blob.size}`);
    const whole = await fetch(`${mirror.url}${path}`);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(blob.bytes));
    assert.equal(counter.count('GET', path), 1);
  });
});
