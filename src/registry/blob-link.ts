// Recording a blob whose bytes are at their content-addressed key, safely against the garbage
// collector (docs/gc.md, "A push racing the collector"). The store refuses a link when the collector
// may have deleted the digest's bytes after the caller knew them present; then the bytes are looked
// at again, once the deletion is over, and linked only if they are still there.
import { setTimeout as sleep } from 'node:timers/promises';
import type { OutboxEvent } from '../metadata/event-store.js';
import { BlobCollectedError, type BlobRow, type MetadataStore } from '../metadata/store.js';
import type { StorageDriver } from '../storage/driver.js';
import { blobKey } from './blob-keys.js';
import type { Digest } from './digest.js';
import type { RepositoryName } from './names.js';

const ATTEMPTS = 8;

/**
 * Links the blob into the repository; `since` is a time taken before the bytes were committed (or
 * checked). False when the bytes were collected meanwhile: nothing was recorded, the caller must
 * get them again (a new upload).
 */
export async function linkStoredBlob(
  metadata: MetadataStore,
  storage: StorageDriver,
  repository: RepositoryName,
  blob: BlobRow & { readonly digest: Digest },
  completedUpload: string | undefined,
  since: number,
  events?: readonly OutboxEvent[],
): Promise<boolean> {
  let present = since;
  for (let attempt = 0; ; attempt++) {
    try {
      await metadata.linkBlob(repository, blob, completedUpload, present, events);
      return true;
    } catch (error) {
      if (!(error instanceof BlobCollectedError) || attempt + 1 >= ATTEMPTS) {
        if (error instanceof BlobCollectedError) return false;
        throw error;
      }
    }
    // A deletion of these bytes is running or just ran: let it finish, then look again.
    await sleep(25 * 2 ** attempt);
    present = Date.now();
    if ((await storage.stat(blobKey(blob.digest)))?.size !== blob.size) return false;
  }
}
