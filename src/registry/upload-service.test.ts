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

describe('UploadService, shared: several services (processes) over one store and one storage', () => {
  const repository = parseRepositoryName('library/shared-uploads');

  /** A memory driver that counts reads of upload keys (a resumed hash reads none). */
  class CountingDriver extends MemoryDriver {
    uploadReads = 0;
    override read(key: string, range?: Parameters<MemoryDriver['read']>[1]): ReturnType<MemoryDriver['read']> {
      if (!key.startsWith('blobs/')) this.uploadReads++;
      return super.read(key, range);
    }
  }

  async function withServices(body: (services: [UploadService, UploadService], metadata: SqliteStore, storage: CountingDriver, workers: [HashWorker, HashWorker]) => Promise<void>): Promise<void> {
    const metadata = new SqliteStore({ path: ':memory:' });
    const storage = new CountingDriver();
    const workers: [HashWorker, HashWorker] = [new HashWorker(), new HashWorker()];
    try {
      const make = (worker: HashWorker): UploadService => new UploadService(metadata, storage, undefined, worker, undefined, undefined, { shared: true });
      await body([make(workers[0]), make(workers[1])], metadata, storage, workers);
    } finally {
      await metadata.close();
    }
  }

  it('started on one, appended on the other and on the first again, completed on the second: no stored byte is read back', () =>
    withServices(async ([one, two], metadata, storage, workers) => {
      const parts = [randomBytes(3 * 1024 * 1024 + 1), randomBytes(100), randomBytes(2 * 1024 * 1024)];
      const id = await one.start(repository);
      let offset = 0;
      for (const [service, part] of [[two, parts[0]], [one, parts[1]], [two, parts[2]]] as const) {
        offset = await service.append(repository, id, Readable.from([part as Buffer]), undefined, (part as Buffer).length);
      }
      const whole = Buffer.concat(parts);
      assert.equal(offset, whole.length);
      assert.equal((await metadata.getUploadState(id))?.offset, whole.length);
      await two.complete(repository, id, digestOf(whole), undefined);
      assert.equal(storage.uploadReads, 0, 'the stored bytes were hashed again');
      // The large parts were hashed on the worker threads (state and all), the small one inline.
      assert.ok(workers[1].threadId !== undefined, 'the second service hashed on its worker thread');
      assert.ok((await storage.get(blobKey(digestOf(whole)))).equals(whole));
    }));

  it('a live claim of another process refuses the request (BLOB_UPLOAD_INVALID); an expired one is taken over', () =>
    withServices(async ([one, two], metadata) => {
      const id = await one.start(repository);
      const state = await metadata.getUploadState(id);
      assert.ok(state !== undefined);
      assert.ok(await metadata.casUploadState(id, state.version, { ...state, writer: 'another process', writerUntil: Date.now() + 60_000 }));
      await assert.rejects(two.append(repository, id, Readable.from([Buffer.from('x')]), undefined, 1), (error: unknown) => error instanceof RegistryError && error.code === 'BLOB_UPLOAD_INVALID');
      assert.ok(await metadata.casUploadState(id, state.version + 1, { ...state, writer: 'a killed process', writerUntil: Date.now() - 1 }));
      assert.equal(await two.append(repository, id, Readable.from([Buffer.from('abc')]), undefined, 3), 3);
      assert.equal((await metadata.getUploadState(id))?.writer, null);
      await one.complete(repository, id, digestOf(Buffer.from('abc')), undefined);
    }));

  it('a saved state this process cannot load: the stored bytes are hashed instead, and a wrong digest is still refused', () =>
    withServices(async ([one, two], metadata, storage) => {
      const bytes = randomBytes(4096);
      const id = await one.start(repository);
      await one.append(repository, id, Readable.from([bytes]), undefined, bytes.length);
      const state = await metadata.getUploadState(id);
      assert.ok(state !== undefined);
      assert.ok(await metadata.casUploadState(id, state.version, { ...state, hashState: Buffer.from('native:XX:1:from another machine') }));
      await assert.rejects(two.complete(repository, id, digestOf(Buffer.from('other')), undefined), (error: unknown) => error instanceof RegistryError && error.code === 'DIGEST_INVALID');
      assert.equal((await metadata.getUploadState(id))?.writer, null, 'the failed request released its claim');
      await two.complete(repository, id, digestOf(bytes), undefined);
      assert.ok(storage.uploadReads > 0);
      assert.ok((await storage.get(blobKey(digestOf(bytes)))).equals(bytes));
    }));
});

describe('UploadService on a driver that stages writes', () => {
  const repository = parseRepositoryName('library/staged');
  /** Counts staged writes and appends (an upload key written). */
  class StagingDriver extends MemoryDriver {
    stages = 0;
    appends = 0;
    constructor() {
      super({ stages: true });
      const stage = this.stage as NonNullable<MemoryDriver['stage']>;
      (this as { stage: MemoryDriver['stage'] }).stage = (to) => {
        this.stages++;
        return stage(to);
      };
    }
    override append(key: string): ReturnType<MemoryDriver['append']> {
      this.appends++;
      return super.append(key);
    }
  }

  async function withUploads(body: (uploads: UploadService, metadata: SqliteStore, storage: StagingDriver) => Promise<void>): Promise<void> {
    const metadata = new SqliteStore({ path: ':memory:' });
    const storage = new StagingDriver();
    try {
      await body(new UploadService(metadata, storage), metadata, storage);
    } finally {
      await metadata.close();
    }
  }

  it('a large monolithic PUT and the closing PUT of an empty upload are staged at the blob key: no upload key is written', () =>
    withUploads(async (uploads, metadata, storage) => {
      for (const [how, bytes] of [['monolithic', randomBytes(3 * 1024 * 1024)], ['closing PUT', randomBytes(300 * 1024)]] as const) {
        const digest = digestOf(bytes);
        if (how === 'monolithic') await uploads.putMonolithic(repository, digest, Readable.from([bytes]), bytes.length);
        else await uploads.complete(repository, await uploads.start(repository), digest, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), undefined);
        assert.ok((await storage.get(blobKey(digest))).equals(bytes), how);
        assert.equal((await metadata.getRepositoryBlob(repository, digest))?.size, bytes.length, how);
      }
      assert.equal(storage.stages, 2);
      assert.equal(storage.appends, 0);
      for await (const object of storage.list('uploads/')) assert.fail(`an upload key was left: ${object.key}`);
    }));

  it('a wrong digest → DIGEST_INVALID, nothing stored at the blob key or recorded; a small body and an upload holding bytes are not staged', () =>
    withUploads(async (uploads, metadata, storage) => {
      const bytes = randomBytes(2 * 1024 * 1024);
      const wrong = digestOf(Buffer.from('another blob'));
      await assert.rejects(uploads.putMonolithic(repository, wrong, Readable.from([bytes]), bytes.length), (error: unknown) => error instanceof RegistryError && error.code === 'DIGEST_INVALID');
      const id = await uploads.start(repository);
      await assert.rejects(uploads.complete(repository, id, wrong, Readable.from([bytes]), bytes.length), (error: unknown) => error instanceof RegistryError && error.code === 'DIGEST_INVALID');
      assert.equal(await storage.stat(blobKey(wrong)), undefined);
      assert.equal(await metadata.getRepositoryBlob(repository, wrong), undefined);
      assert.equal(storage.stages, 2);
      // The session is still there and holds nothing: a right digest completes it.
      await uploads.complete(repository, id, digestOf(bytes), Readable.from([bytes]), bytes.length);
      assert.equal(storage.stages, 3);
      const small = Buffer.from('a small blob');
      await uploads.putMonolithic(repository, digestOf(small), Readable.from([small]), small.length);
      const chunked = await uploads.start(repository);
      await uploads.append(repository, chunked, Readable.from([bytes.subarray(0, 1000)]), undefined, 1000);
      await uploads.complete(repository, chunked, digestOf(bytes), Readable.from([bytes.subarray(1000)]), bytes.length - 1000);
      assert.ok((await storage.get(blobKey(digestOf(bytes)))).equals(bytes));
      assert.equal(storage.stages, 3, 'neither the small body nor the upload holding bytes was staged');
    }));
});
