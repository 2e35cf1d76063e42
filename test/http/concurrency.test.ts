// Concurrent pushes of the same content and tag, and a client that aborts in the middle of a PATCH.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { bodyOf, freshRepository, imageParts, ociManifest, randomContent } from '../support/content.js';
import { pushBlobs, putManifest, startUpload, withDigest } from '../support/push.js';
import { openRequest, pathOf } from '../support/raw-http.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

for (const storage of ['filesystem', 'inmemory'] as const) {
  describe(`concurrency (${storage})`, () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startTestRegistry({ storage });
    });
    after(async () => {
      await registry.stop();
    });

    async function uploadStatusOffset(location: string): Promise<number> {
      const response = await fetch(location);
      await response.arrayBuffer();
      assert.equal(response.status, 204);
      const range = response.headers.get('range') ?? '';
      const match = /^0-(\d+)$/.exec(range);
      assert.ok(match !== null, `Range ${range}`);
      return range === '0-0' ? 0 : Number(match[1]) + 1;
    }

    it('two concurrent monolithic uploads of the same blob → both 201; the blob is served intact', async () => {
      const repository = freshRepository();
      const blob = randomContent(2 * 1024 * 1024);
      const push = async (): Promise<number> => {
        const response = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: bodyOf(blob.bytes) });
        await response.arrayBuffer();
        return response.status;
      };
      assert.deepEqual(await Promise.all([push(), push()]), [201, 201]);
      const response = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(blob.bytes));
    });

    it('two concurrent session uploads (POST, PATCH, PUT) of the same blob into two repositories → both 201', async () => {
      const repositories = [freshRepository('one'), freshRepository('two')];
      const blob = randomContent(1024 * 1024);
      const push = async (repository: string): Promise<number> => {
        const location = await startUpload(registry.url, repository);
        const patched = await fetch(location, { method: 'PATCH', body: bodyOf(blob.bytes) });
        await patched.arrayBuffer();
        const done = await fetch(withDigest(new URL(patched.headers.get('location') ?? '', registry.url).toString(), blob.digest), { method: 'PUT' });
        await done.arrayBuffer();
        return done.status;
      };
      assert.deepEqual(await Promise.all(repositories.map(push)), [201, 201]);
      for (const repository of repositories) {
        const response = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
        assert.ok(Buffer.from(await response.arrayBuffer()).equals(blob.bytes), repository);
      }
    });

    it('two concurrent PUTs of different manifests to the same tag → both 201; the tag names one of them and both are stored', async () => {
      const repository = freshRepository();
      const partsOf = [imageParts('racer one'), imageParts('racer two')];
      const bodies = partsOf.map((parts) => ociManifest(parts));
      for (const parts of partsOf) await pushBlobs(registry.url, repository, [parts.config, ...parts.layers]);
      const statuses = await Promise.all(
        bodies.map(async (manifest) => {
          const response = await putManifest(registry.url, repository, 'race', manifest);
          await response.arrayBuffer();
          return response.status;
        }),
      );
      assert.deepEqual(statuses, [201, 201]);
      const tagged = await fetch(`${registry.url}/v2/${repository}/manifests/race`);
      await tagged.arrayBuffer();
      assert.ok(bodies.some((manifest) => manifest.digest === tagged.headers.get('docker-content-digest')));
      for (const manifest of bodies) {
        const response = await fetch(`${registry.url}/v2/${repository}/manifests/${manifest.digest}`);
        assert.ok(Buffer.from(await response.arrayBuffer()).equals(manifest.bytes));
      }
      const tags = (await (await fetch(`${registry.url}/v2/${repository}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['race']);
    });

    it('a client that aborts mid-PATCH leaves the upload resumable: GET status gives the stored offset, continuing from it completes with the right digest', async () => {
      const repository = freshRepository();
      const blob = randomContent(600_000);
      const location = await startUpload(registry.url, repository);
      const firstPart = blob.bytes.subarray(0, 200_000);
      const open = openRequest(registry.url, {
        method: 'PATCH',
        path: pathOf(location),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.size },
        firstPart,
      });
      let offset = 0;
      for (let i = 0; i < 200 && offset < firstPart.length; i++) {
        await delay(10);
        offset = await uploadStatusOffset(location);
      }
      assert.equal(offset, firstPart.length, 'the first part reached storage before the abort');
      open.req.destroy();
      const outcome = await open.done;
      assert.ok(outcome instanceof Error, 'the aborted request has no response');
      offset = await uploadStatusOffset(location);
      assert.ok(offset <= firstPart.length);
      let status = 0;
      for (let attempt = 0; attempt < 50; attempt++) {
        const rest = blob.bytes.subarray(offset);
        const response = await fetch(location, {
          method: 'PATCH',
          headers: { 'Content-Range': `${offset}-${blob.size - 1}`, 'Content-Length': String(rest.length) },
          body: bodyOf(rest),
        });
        await response.arrayBuffer();
        status = response.status;
        if (status === 202) break;
        await delay(20);
        offset = await uploadStatusOffset(location);
      }
      assert.equal(status, 202, 'the upload continues from the stored offset');
      assert.equal(await uploadStatusOffset(location), blob.size);
      const done = await fetch(withDigest(location, blob.digest), { method: 'PUT' });
      await done.arrayBuffer();
      assert.equal(done.status, 201);
      const served = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`);
      assert.ok(Buffer.from(await served.arrayBuffer()).equals(blob.bytes));
    });
  });
}
