// `berth gc` is safe while the server runs: a separate process collecting the same SQLite file and
// blob directory, again and again with a 100 ms review delay, while clients push images sharing
// base layers and delete them. Every acknowledged image pulls fully after each round.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { bodyOf, content, descriptorOf, manifestBody, MediaTypes, type Content } from '../support/content.js';
import { pullFully } from '../support/pull.js';
import { freePort, startRegistryProcess } from '../support/registry-process.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROUNDS = 4;
const BASES: readonly Content[] = [content(`two-process base 0 ${'y'.repeat(2048)}`), content(`two-process base 1 ${'z'.repeat(2048)}`)];

async function request(url: string, path: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(`${url}${path}`, init);
  await response.arrayBuffer();
  return response.status;
}

/** HEAD-then-upload like docker, then the manifest; the digest when acknowledged. */
async function pushImage(url: string, repository: string, tag: string, label: string): Promise<string | undefined> {
  const config = content(JSON.stringify({ architecture: 'amd64', os: 'linux', label }));
  const layers = [BASES[label.length % 2] as Content, content(`${label} ${randomBytes(8).toString('hex')}`)];
  const manifest = manifestBody(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: descriptorOf(config, MediaTypes.ociConfig),
      layers: layers.map((layer) => descriptorOf(layer, MediaTypes.ociLayer)),
    },
    MediaTypes.ociManifest,
  );
  for (let attempt = 0; attempt < 3; attempt++) {
    for (const blob of [config, ...layers]) {
      if ((await request(url, `/v2/${repository}/blobs/${blob.digest}`, { method: 'HEAD' })) === 200) continue;
      await request(url, `/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: bodyOf(blob.bytes) });
    }
    const status = await request(url, `/v2/${repository}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': manifest.mediaType }, body: bodyOf(manifest.bytes) });
    if (status === 201) return manifest.digest;
  }
  return undefined;
}

describe('berth gc in another process while the server serves', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-gc-two-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it(`${ROUNDS} rounds of pushes and deletes with \`berth gc --review-delay 100ms\` looping beside the server: nothing acknowledged is lost`, async () => {
    const server = await startRegistryProcess(dataDir, await freePort(), { REGISTRY_GC_ENABLED: 'false' });
    let collecting = true;
    let runs = 0;
    let collected = 0;
    const collector = (async () => {
      while (collecting) {
        const child = spawn(process.execPath, [MAIN, 'gc', '--json', '--review-delay', '100ms'], {
          env: { ...process.env, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dataDir, REGISTRY_LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString('utf8');
        });
        const [code] = (await once(child, 'exit')) as [number | null];
        collected += (JSON.parse(stdout) as { blobs: number }).blobs;
        assert.equal(code, 0, 'berth gc exits 0 beside a running server');
        runs++;
      }
    })();
    try {
      const kept = new Map<string, string>();
      for (let round = 0; round < ROUNDS; round++) {
        await Promise.all(
          [0, 1, 2].map(async (client) => {
            const repository = `two/client-${client}`;
            for (let i = 0; i < 6; i++) {
              const tag = `r${round}-${i}`;
              const digest = await pushImage(server.url, repository, tag, `${client} ${round} ${i}`);
              if (digest === undefined) continue;
              if (i % 2 === 0) {
                assert.equal(await request(server.url, `/v2/${repository}/manifests/${digest}`, { method: 'DELETE' }), 202);
              } else {
                kept.set(`${repository}:${tag}`, digest);
              }
            }
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (const [reference, digest] of kept) {
          const [repository, tag] = reference.split(':') as [string, string];
          assert.equal(await pullFully(server.url, repository, tag, digest), undefined, `round ${round}`);
        }
      }
      assert.ok(runs > 0 && kept.size > 0);
      assert.ok(collected > 0, `berth gc collected blobs of deleted images meanwhile (${runs} runs)`);
    } finally {
      collecting = false;
      await collector;
      await server.stop();
    }
  });
});
