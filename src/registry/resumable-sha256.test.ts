import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { newSha256, restoreSha256, resumableEngine } from './resumable-sha256.js';

describe('resumable sha256', () => {
  it('the native engine is built on Linux (scripts/build-native.mjs)', () => {
    if (process.platform === 'linux') assert.equal(resumableEngine, 'native');
  });

  for (const engine of ['native', 'wasm'] as const) {
    it(`${engine}: a state saved mid-way and restored elsewhere gives node:crypto's digest`, async () => {
      const parts = [randomBytes(1), randomBytes(63), randomBytes(1000), randomBytes(70_001), Buffer.alloc(0), randomBytes(5)];
      const expected = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
      let hash = await newSha256(engine);
      for (const part of parts) {
        hash.update(part);
        const restored = await restoreSha256(hash.save());
        assert.ok(restored !== undefined);
        hash = restored;
      }
      assert.equal(hash.digest(), expected);
    });

    it(`${engine}: a saved state is a copy (hashing on does not change it)`, async () => {
      const hash = await newSha256(engine);
      hash.update(Buffer.from('abc'));
      const saved = hash.save();
      hash.update(Buffer.from('def'));
      const again = await restoreSha256(saved);
      assert.equal(again?.digest(), createHash('sha256').update('abc').digest('hex'));
    });
  }

  it('a state it cannot load (another engine, a damaged one) gives undefined', async () => {
    assert.equal(await restoreSha256(Buffer.from('native:XX:112:junk')), undefined);
    assert.equal(await restoreSha256(Buffer.from('something else')), undefined);
    const saved = (await newSha256('native')).save();
    assert.equal(await restoreSha256(saved.subarray(0, saved.length - 1)), undefined);
  });
});
