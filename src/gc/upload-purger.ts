// Purges abandoned uploads (distribution's storage.maintenance.uploadpurging): upload sessions older
// than the age lose their row and their bytes; upload directories with no session (a crash during a
// single-request upload) are removed once their bytes are older than the age too.
import type { Logger } from 'pino';
import type { MetadataStore } from '../metadata/store.js';
import { uploadPrefix } from '../registry/blob-keys.js';
import type { StorageDriver } from '../storage/driver.js';

export interface PurgeOptions {
  readonly ageMs: number;
  readonly dryRun: boolean;
}

export interface PurgeReport {
  readonly sessions: number;
  readonly orphanDirectories: number;
}

const BATCH = 500;

export async function purgeUploads(metadata: MetadataStore, storage: StorageDriver, options: PurgeOptions, log: Logger): Promise<PurgeReport> {
  const cutoff = Date.now() - options.ageMs;
  let sessions = 0;
  for (;;) {
    const batch = await metadata.listUploadsStartedBefore(cutoff, BATCH);
    if (options.dryRun) {
      for (const upload of batch) log.info({ upload: upload.id, repository: upload.repository }, 'upload purging (dry run): would remove');
      sessions += batch.length;
      break;
    }
    for (const upload of batch) {
      await metadata.deleteUpload(upload.id);
      await storage.delete(uploadPrefix(upload.id));
      sessions++;
    }
    if (batch.length < BATCH) break;
  }
  let orphanDirectories = 0;
  for await (const object of storage.list('uploads/')) {
    const id = object.key.split('/')[1];
    if (id === undefined || object.modifiedAt.getTime() >= cutoff) continue;
    if (await metadata.hasUpload(id)) continue;
    orphanDirectories++;
    if (!options.dryRun) await storage.delete(uploadPrefix(id));
  }
  if (sessions + orphanDirectories > 0) log.info({ sessions, orphanDirectories, dryRun: options.dryRun }, 'purged abandoned uploads');
  return { sessions, orphanDirectories };
}

/** Runs purging now and then every interval until the returned stop function is called. */
export function schedulePurging(run: () => Promise<unknown>, intervalMs: number, log: Logger): () => void {
  const tick = (): void => {
    run().catch((error: unknown) => log.error({ err: error }, 'upload purging failed'));
  };
  const first = setTimeout(tick, Math.min(intervalMs, 60_000));
  const timer = setInterval(tick, intervalMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
