// Clients that ask for a cold blob while its one upstream fetch is already under way: within the
// first REPLAY_BYTES (4 MiB) they are streamed the blob too, from memory and then as the bytes
// arrive, instead of waiting for it to be stored; past them, they read it once it is stored. The
// upstream (another Berth behind a fault proxy) trickles the blob; the joiners start once the first
// client has received so many bytes, and the test compares when each got its first byte with when
// the first client's body ended.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { REPLAY_BYTES } from '../../src/registry/proxy-blob-fill.js';
import { content } from '../support/content.js';
import type { FaultProxy } from '../support/fault-proxy.js';
import { pushBlob } from '../support/push.js';
import { startProxyChain, type ProxyChain } from '../support/proxy-chain.js';
import type { TestRegistry } from '../support/test-registry.js';

interface Pull {
  readonly firstByteAt: number;
  readonly doneAt: number;
  readonly digest: string;
  readonly bytes: number;
}

/** A GET of the blob, read to the end, with when its first byte and its end came; `onBytes` hears of its progress. */
async function pull(url: string, onBytes: (received: number) => void = () => undefined): Promise<Pull> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  const hash = createHash('sha256');
  let firstByteAt = 0;
  let bytes = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    if (firstByteAt === 0) firstByteAt = performance.now();
    hash.update(chunk);
    bytes += chunk.length;
    onBytes(bytes);
  }
  return { firstByteAt, doneAt: performance.now(), digest: `sha256:${hash.digest('hex')}`, bytes };
}

/** Resolves once `received` reaches `bytes` (call `check` with each count). */
function whenReceived(bytes: number): { reached: Promise<void>; check: (received: number) => void } {
  let resolve = (): void => undefined;
  const reached = new Promise<void>((r) => (resolve = r));
  return { reached, check: (received) => (received >= bytes ? resolve() : undefined) };
}

describe('pull-through cache: clients that join a fill under way', () => {
  let chain: ProxyChain;
  let upstream: TestRegistry;
  let faults: FaultProxy;
  let mirror: TestRegistry;
  before(async () => {
    chain = await startProxyChain();
    ({ upstream, faults, mirror } = chain);
  });
  after(() => chain.stop());

  it('a client arriving after the first bytes but within REPLAY_BYTES is streamed the blob before the fill ends; one past them reads the stored blob; one upstream GET', async () => {
    // 6 MiB at 256 KiB every 40 ms: the fill takes about a second.
    const blob = content(randomBytes(REPLAY_BYTES + 2 * 1024 * 1024));
    await pushBlob(upstream.url, 'cache/joiners', blob);
    const path = `/v2/cache/joiners/blobs/${blob.digest}`;
    faults.rule = (method, p) => (method === 'GET' && p === path ? { trickle: { bytes: 256 * 1024, everyMs: 40 } } : undefined);
    try {
      // The joiners start when the first client has received so much (the fill has passed at least that).
      const half = whenReceived(512 * 1024);
      const past = whenReceived(REPLAY_BYTES + 512 * 1024);
      const first = pull(`${mirror.url}${path}`, (received) => {
        half.check(received);
        past.check(received);
      });
      await half.reached; // well within REPLAY_BYTES: about 3.5 MiB (550 ms of trickle) before them
      const early = pull(`${mirror.url}${path}`);
      await past.reached; // past REPLAY_BYTES
      const late = pull(`${mirror.url}${path}`);
      const [a, b, c] = await Promise.all([first, early, late]);
      for (const result of [a, b, c]) {
        assert.equal(result.digest, blob.digest);
        assert.equal(result.bytes, blob.size);
      }
      assert.equal(faults.count('GET', path), 1, 'one upstream fetch');
      assert.ok(b.firstByteAt < a.doneAt - 200, `the early joiner had bytes ${(a.doneAt - b.firstByteAt).toFixed(0)} ms before the fill ended`);
      assert.ok(c.firstByteAt >= a.doneAt - 50, 'the late one waited for the stored blob');
    } finally {
      faults.rule = () => undefined;
    }
  });
});
