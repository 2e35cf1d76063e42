// The GC race suite: clients push (sharing base layers across repositories, indexes with untagged
// children, re-pushing layers GC may be collecting), retag and delete in loops while the collector
// runs back to back with a tiny review delay. After each round a checker pulls every acknowledged
// image fully and checks that every blob row of the metadata store has its bytes. Zero losses.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { bodyOf, content, descriptorOf, indexOf, manifestBody, MediaTypes, type Content, type ManifestBody } from '../support/content.js';
import { pullFully } from '../support/pull.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const ROUNDS = 6;
const CLIENTS = 4;
const OPERATIONS = 10;
const REVIEW_DELAY_MS = 25;

let retries = 0;

/** A few base layers every client uses: they often lose their last reference and are pushed again. */
const BASE_LAYERS: readonly Content[] = Array.from({ length: 3 }, (_, i) => content(`race base layer ${i} ${'x'.repeat(4096)}`));

interface Model {
  readonly repository: string;
  /** tag → manifest digest, as acknowledged. */
  readonly tags: Map<string, string>;
  /** Manifests acknowledged and not deleted by digest (untagged ones are kept by default). */
  readonly manifests: Set<string>;
}

function pick<T>(values: readonly T[]): T {
  return values[Math.floor(Math.random() * values.length)] as T;
}

async function request(url: string, path: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(`${url}${path}`, init);
  await response.arrayBuffer();
  return response.status;
}

/** Pushes blobs the way docker does (HEAD, then upload when missing) and the manifest; true when acknowledged. */
async function push(url: string, repository: string, blobs: readonly Content[], manifest: ManifestBody, reference: string): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    for (const blob of blobs) {
      if ((await request(url, `/v2/${repository}/blobs/${blob.digest}`, { method: 'HEAD' })) === 200) continue;
      const status = await request(url, `/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: bodyOf(blob.bytes) });
      if (status !== 201) break;
    }
    const status = await request(url, `/v2/${repository}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'Content-Type': manifest.mediaType },
      body: bodyOf(manifest.bytes),
    });
    if (status === 201) return true;
    retries++;
    // GC took a blob between the HEAD and the PUT (it was unreferenced past the delay): not
    // acknowledged, so not a loss; push again as a client would.
    assert.ok(status === 400, `manifest PUT answered ${status}`);
  }
  return false;
}

function image(label: string): { blobs: Content[]; manifest: ManifestBody } {
  const config = content(JSON.stringify({ architecture: 'amd64', os: 'linux', label }));
  const layers = [pick(BASE_LAYERS), content(`${label} ${randomBytes(8).toString('hex')}`)];
  const manifest = manifestBody(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: descriptorOf(config, MediaTypes.ociConfig),
      layers: layers.map((layer) => descriptorOf(layer, MediaTypes.ociLayer)),
    },
    MediaTypes.ociManifest,
  );
  return { blobs: [config, ...layers], manifest };
}

async function client(url: string, model: Model, round: number): Promise<void> {
  const { repository, tags, manifests } = model;
  for (let op = 0; op < OPERATIONS; op++) {
    const choice = Math.random();
    const tag = `t${Math.floor(Math.random() * 4)}`;
    if (choice < 0.4 || manifests.size === 0) {
      const pushed = image(`${repository} ${round} ${op}`);
      if (await push(url, repository, pushed.blobs, pushed.manifest, tag)) {
        tags.set(tag, pushed.manifest.digest);
        manifests.add(pushed.manifest.digest);
      }
    } else if (choice < 0.5) {
      // A multi-arch index: children by digest (untagged), the index tagged.
      const children = [image(`${repository} ${round} ${op} a`), image(`${repository} ${round} ${op} b`)];
      let ok = true;
      for (const child of children) ok = ok && (await push(url, repository, child.blobs, child.manifest, child.manifest.digest));
      if (!ok) continue;
      for (const child of children) manifests.add(child.manifest.digest);
      const index = indexOf(children.map((child) => child.manifest));
      INDEX_CHILDREN.set(index.digest, children.map((child) => child.manifest.digest));
      if (await push(url, repository, [], index, tag)) {
        tags.set(tag, index.digest);
        manifests.add(index.digest);
      }
    } else if (choice < 0.7) {
      // Retag: point a tag at a manifest the repository holds.
      const digest = pick([...manifests]);
      const bytes = await fetch(`${url}/v2/${repository}/manifests/${digest}`, { headers: { Accept: `${MediaTypes.ociManifest}, ${MediaTypes.ociIndex}` } });
      const payload = Buffer.from(await bytes.arrayBuffer());
      assert.equal(bytes.status, 200, `acknowledged ${repository}@${digest} answered ${bytes.status} before a retag`);
      const status = await request(url, `/v2/${repository}/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'Content-Type': bytes.headers.get('content-type') ?? MediaTypes.ociManifest },
        body: bodyOf(payload),
      });
      assert.equal(status, 201);
      tags.set(tag, digest);
    } else if (choice < 0.85) {
      if (!tags.has(tag)) continue;
      assert.equal(await request(url, `/v2/${repository}/manifests/${tag}`, { method: 'DELETE' }), 202);
      tags.delete(tag);
    } else {
      // Delete by digest (with its tags), but never a child of an index the model still holds.
      const digest = pick([...manifests]);
      const held = [...manifests].some((value) => value !== digest && isIndexHolding(value, digest));
      if (held) continue;
      assert.equal(await request(url, `/v2/${repository}/manifests/${digest}`, { method: 'DELETE' }), 202);
      manifests.delete(digest);
      for (const [name, value] of tags) if (value === digest) tags.delete(name);
    }
  }
}

// Indexes the clients pushed, by digest → child digests (to keep the model honest about children).
const INDEX_CHILDREN = new Map<string, string[]>();
function isIndexHolding(index: string, child: string): boolean {
  return INDEX_CHILDREN.get(index)?.includes(child) ?? false;
}

describe('GC race: pushes, retags and deletes while the collector runs with a tiny delay', () => {
  let registry: TestRegistry;
  let collecting = true;
  let runs = 0;
  let collectedBlobs = 0;
  let collector: Promise<void>;
  before(async () => {
    registry = await startTestRegistry({ env: { REGISTRY_GC_ENABLED: 'false' } });
    collector = (async () => {
      while (collecting) {
        const report = await registry.app.collectGarbage({ reviewDelayMs: REVIEW_DELAY_MS, batchSize: 7 });
        collectedBlobs += report.blobs;
        runs++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
  });
  after(async () => {
    collecting = false;
    await collector;
    await registry.stop();
  });

  it(`${ROUNDS} rounds of ${CLIENTS} clients: every acknowledged image pulls fully after each round, every blob row has its bytes`, async () => {
    const url = registry.url;
    const models: Model[] = Array.from({ length: CLIENTS }, (_, i) => ({ repository: `race/client-${i}`, tags: new Map(), manifests: new Set() }));
    let acknowledgedTotal = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(models.map((model) => client(url, model, round)));
      // Let the collector take whatever became due, then check everything acknowledged.
      await new Promise((resolve) => setTimeout(resolve, REVIEW_DELAY_MS * 3));
      const losses: string[] = [];
      for (const model of models) {
        for (const [tag, digest] of model.tags) {
          const problem = await pullFully(url, model.repository, tag, digest);
          if (problem !== undefined) losses.push(problem);
        }
        for (const digest of model.manifests) {
          const problem = await pullFully(url, model.repository, digest, digest);
          if (problem !== undefined) losses.push(problem);
        }
        acknowledgedTotal += model.manifests.size;
      }
      assert.deepEqual(losses, [], `round ${round}: acknowledged content lost`);
      const db = new Database(join(registry.dataDir ?? '', 'metadata.sqlite'), { readonly: true });
      try {
        const rows = db.prepare('SELECT digest FROM blobs').pluck().all() as string[];
        const missing = rows.filter((digest) => {
          const [algorithm, hex] = digest.split(':') as [string, string];
          return !existsSync(join(registry.dataDir ?? '', 'blobs', algorithm, hex.slice(0, 2), hex));
        });
        assert.deepEqual(missing, [], `round ${round}: blob rows without bytes`);
      } finally {
        db.close();
      }
    }
    assert.ok(runs > ROUNDS, `the collector ran (${runs} runs)`);
    assert.ok(collectedBlobs > 0, 'the collector removed blobs while clients worked');
    if (process.env.BERTH_RACE_VERBOSE !== undefined) process.stderr.write(`race: ${runs} collector runs, ${collectedBlobs} blobs collected, ${acknowledgedTotal} acknowledged manifests checked, ${retries} refused pushes retried\n`);
    assert.ok(acknowledgedTotal > 0);
  });

  it('afterwards, deleting everything and collecting leaves no blob bytes on disk', async () => {
    collecting = false;
    await collector;
    const url = registry.url;
    for (let i = 0; i < CLIENTS; i++) {
      const repository = `race/client-${i}`;
      const tags = ((await (await fetch(`${url}/v2/${repository}/tags/list`)).json()) as { tags: string[] | null }).tags ?? [];
      for (const tag of tags) await request(url, `/v2/${repository}/manifests/${tag}`, { method: 'DELETE' });
    }
    const db = new Database(join(registry.dataDir ?? '', 'metadata.sqlite'), { readonly: true });
    const remaining = db.prepare("SELECT r.name, m.digest FROM repository_manifests rm JOIN repositories r ON r.id = rm.repository_id JOIN manifests m ON m.id = rm.manifest_id").all() as {
      name: string;
      digest: string;
    }[];
    db.close();
    for (const { name, digest } of remaining) await request(url, `/v2/${name}/manifests/${digest}`, { method: 'DELETE' });
    for (let pass = 0; pass < 4; pass++) await registry.app.collectGarbage({ reviewDelayMs: 0 });
    const left: string[] = [];
    for await (const object of registry.app.registry.storage.list('blobs/')) left.push(object.key);
    assert.deepEqual(left, []);
  });
});
