// Purges abandoned uploads (distribution's storage.maintenance.uploadpurging): upload sessions older
// than the age lose their row and their bytes; upload files with no session (a crash during a
// single-request upload) are removed once their bytes are older than the age too.
import type { Logger } from 'pino';
import type { MetadataStore } from '../metadata/store.js';
import { UPLOADS_PREFIX, uploadKey } from '../registry/blob-keys.js';
import type { StorageDriver } from '../storage/driver.js';

export interface PurgeOptions {
  readonly ageMs: number;
  readonly dryRun: boolean;
}

export interface PurgeReport {
  readonly sessions: number;
  readonly orphanFiles: number;
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
      await storage.delete(uploadKey(upload.id));
      sessions++;
    }
    if (batch.length < BATCH) break;
  }
  let orphanFiles = 0;
  for await (const object of storage.list(UPLOADS_PREFIX)) {
    const id = object.key.slice(UPLOADS_PREFIX.length);
    if (object.modifiedAt.getTime() >= cutoff) continue;
    if (await metadata.hasUpload(id)) continue;
    orphanFiles++;
    if (!options.dryRun) await storage.delete(object.key);
  }
  if (sessions + orphanFiles > 0) log.info({ sessions, orphanFiles, dryRun: options.dryRun }, 'purged abandoned uploads');
  return { sessions, orphanFiles };
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
