// Notifications survive a failing endpoint, an endpoint outage and a kill -9 of Berth: a receiver
// refuses every third delivery and is down for a while, Berth (a child process) is killed with
// SIGKILL in the middle of pushes and started again, and in the end every acknowledged push has
// arrived, in order per repository (duplicates allowed: delivery is at least once).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EventReceiver } from '../support/event-receiver.js';
import { imageParts, ociManifest } from '../support/content.js';
import { pushBlobs, putManifest } from '../support/push.js';
import { freePort, startRegistryProcess, type RegistryProcess } from '../support/registry-process.js';

const REPOSITORIES = 4;

const dataDir = mkdtempSync(join(tmpdir(), 'berth-notify-crash-'));
let server: RegistryProcess | undefined;
let receiver: EventReceiver | undefined;
after(async () => {
  await server?.stop('SIGKILL');
  await receiver?.down();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Pushes tagged images into one repository, one after the other, until stopped or the server dies; returns the acknowledged tags in order. */
async function writer(url: string, repository: string, prefix: string, acknowledged: string[], until: () => boolean): Promise<void> {
  for (let i = 0; !until(); i++) {
    const tag = `${prefix}-${String(i).padStart(4, '0')}`;
    try {
      const parts = imageParts(`${repository}:${tag}`);
      await pushBlobs(url, repository, [parts.config, ...parts.layers]);
      const response = await putManifest(url, repository, tag, ociManifest(parts));
      await response.arrayBuffer();
      if (response.status !== 201) throw new assert.AssertionError({ message: `PUT manifest ${repository}:${tag} → ${response.status}` });
      acknowledged.push(tag);
    } catch (error) {
      if (error instanceof assert.AssertionError && !/fetch failed|ECONNRE|socket/i.test(error.message)) throw error;
      return; // the server was killed
    }
  }
}

test('every acknowledged push event arrives in order per repository despite refusals, an outage and a kill -9', async (t) => {
  receiver = await EventReceiver.start();
  receiver.failEvery = 3;
  const port = await freePort();
  const env = {
    REGISTRY_NOTIFICATIONS_ENDPOINTS: JSON.stringify([{ name: 'hook', url: receiver.url, timeout: '1s', threshold: 3, backoff: '100ms', ignore: { actions: ['pull'] } }]),
  };
  const acknowledged = new Map<string, string[]>(Array.from({ length: REPOSITORIES }, (_, i) => [`notify/r${i}`, []]));
  const phase = async (url: string, prefix: string, stop: () => boolean): Promise<void> => {
    await Promise.all([...acknowledged].map(([repository, tags]) => writer(url, repository, prefix, tags, stop)));
  };
  const count = (): number => [...acknowledged.values()].reduce((sum, tags) => sum + tags.length, 0);

  // 1. The endpoint refuses every third delivery.
  server = await startRegistryProcess(dataDir, port, env);
  let target = count() + 12;
  await phase(server.url, 'a', () => count() >= target);
  // 2. The endpoint is down; pushes go on (and are acknowledged as fast: the outbox is on disk).
  await receiver.down();
  target = count() + 12;
  await phase(server.url, 'b', () => count() >= target);
  // 3. kill -9 in the middle of pushes.
  const url = server.url;
  const dying = phase(url, 'c', () => false);
  await new Promise((resolve) => setTimeout(resolve, 400));
  await server.stop('SIGKILL');
  await dying;
  // 4. Berth again, the endpoint back (still refusing every third), more pushes.
  server = await startRegistryProcess(dataDir, port, env);
  await receiver.up();
  target = count() + 8;
  await phase(server.url, 'd', () => count() >= target);

  const expected = count();
  const manifestPushes = (): Map<string, string[]> => {
    const seen = new Map<string, string[]>();
    for (const event of receiver?.unique() ?? []) {
      if (event.action !== 'push' || event.target.tag === undefined) continue;
      seen.set(event.target.repository, [...(seen.get(event.target.repository) ?? []), event.target.tag]);
    }
    return seen;
  };
  await receiver.waitFor(`${expected} acknowledged manifest pushes delivered`, () => {
    const seen = manifestPushes();
    return [...acknowledged].every(([repository, tags]) => tags.every((tag) => seen.get(repository)?.includes(tag)));
  }, 60_000);
  const seen = manifestPushes();
  for (const [repository, tags] of acknowledged) {
    const arrived = (seen.get(repository) ?? []).filter((tag) => tags.includes(tag));
    assert.deepEqual(arrived, tags, `${repository}: events in push order`);
  }
  const refusals = receiver.attempts - receiver.events.length;
  t.diagnostic(`${expected} acknowledged pushes over ${REPOSITORIES} repositories; ${receiver.events.length} envelopes accepted (${receiver.unique().length} distinct events), ${refusals} refused`);
  assert.ok(refusals > 0, 'the endpoint refused some deliveries');
  assert.ok(acknowledged.get('notify/r0')?.some((tag) => tag.startsWith('c-')) === true || [...acknowledged.values()].some((tags) => tags.some((tag) => tag.startsWith('c-'))), 'some pushes were acknowledged in the phase that was killed');
});
