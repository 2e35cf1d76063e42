// UploadService against real stores, for what HTTP cannot reach: the hash worker dying under an upload.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { SqliteStore } from '../metadata/sqlite/sqlite-store.js';
import { MemoryDriver } from '../storage/memory/memory-driver.js';
import { blobKey } from './blob-keys.js';
import { parseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { parseRepositoryName } from './names.js';
import { HashWorker } from './stream-digest.js';
import { UploadService } from './upload-service.js';

const digestOf = (bytes: Buffer): ReturnType<typeof parseDigest> => parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);

describe('UploadService with a hash worker that dies', () => {
  // The fixture exits (status 70) when it is sent a block of 777 bytes: a body of 1 MiB + 777 bytes
  // goes to the worker (1 MiB and over does) as one full block and then that one.
  const repository = parseRepositoryName('library/dying-worker');
  /** Runs `body` with an UploadService over fresh stores whose hash worker is the dying fixture. */
  async function withDyingWorker(body: (uploads: UploadService, metadata: SqliteStore, storage: MemoryDriver) => Promise<void>): Promise<void> {
    const metadata = new SqliteStore({ path: ':memory:' });
    const storage = new MemoryDriver();
    const worker = new HashWorker({ script: new URL('../../test/support/failing-hash-worker.js', import.meta.url) });
    try {
      await body(new UploadService(metadata, storage, undefined, worker), metadata, storage);
    } finally {
      await metadata.close();
    }
  }

  it('a monolithic upload is verified from the stored bytes instead: stored and recorded', () =>
    withDyingWorker(async (uploads, metadata, storage) => {
      const bytes = randomBytes(1024 * 1024 + 777);
      const digest = digestOf(bytes);
      await uploads.putMonolithic(repository, digest, Readable.from([bytes]), bytes.length);
      assert.ok((await storage.get(blobKey(digest))).equals(bytes));
      assert.equal((await metadata.getRepositoryBlob(repository, digest))?.size, bytes.length);
    }));

  it('a chunked upload likewise, and a wrong digest is still refused with DIGEST_INVALID', () =>
    withDyingWorker(async (uploads, metadata, storage) => {
      const bytes = randomBytes(1024 * 1024 + 777);
      const wrong = await uploads.start(repository);
      await uploads.append(repository, wrong, Readable.from([bytes]), undefined, bytes.length);
      await assert.rejects(uploads.complete(repository, wrong, digestOf(Buffer.from('other')), undefined), (error: unknown) => error instanceof RegistryError && error.code === 'DIGEST_INVALID');
      const id = await uploads.start(repository);
      await uploads.append(repository, id, Readable.from([bytes]), undefined, bytes.length);
      const digest = digestOf(bytes);
      await uploads.complete(repository, id, digest, undefined);
      assert.ok((await storage.get(blobKey(digest))).equals(bytes));
      assert.equal((await metadata.getRepositoryBlob(repository, digest))?.size, bytes.length);
    }));
});
