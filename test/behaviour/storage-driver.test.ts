// One behaviour suite for the StorageDriver interface, run against every implementation.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, fdatasync as realFdatasync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { ExistsError, NotFoundError, type StorageDriver } from '../../src/storage/driver.js';
import { FilesystemDriver, type FdatasyncFunction } from '../../src/storage/filesystem/filesystem-driver.js';
import { nativeSendFile, nativeWriteAndRename, type SendFile } from '../../src/storage/filesystem/native-helpers.js';
import { MemoryDriver } from '../../src/storage/memory/memory-driver.js';
import { CreateBucketCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { startS3RecordingProxy, type S3RecordingProxy } from '../e2e/harness/s3-recording-proxy.js';
import { createS3Client } from '../../src/storage/s3/s3-client.js';
import { MIN_PART_SIZE, S3Driver } from '../../src/storage/s3/s3-driver.js';
import { s3Service } from '../support/services.js';

interface DriverFactory {
  readonly name: string;
  create(): StorageDriver | Promise<StorageDriver>;
  dispose(): void;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function appendAll(driver: StorageDriver, key: string, chunks: readonly Buffer[]): Promise<void> {
  const writer = await driver.append(key);
  await pipeline(Readable.from(chunks, { objectMode: false }), writer.stream);
}

async function listKeys(driver: StorageDriver, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of driver.list(prefix)) keys.push(object.key);
  return keys.sort();
}

export function storageDriverSuite(factory: DriverFactory): void {
  describe(`StorageDriver behaviour: ${factory.name}`, () => {
    let driver: StorageDriver;
    before(async () => {
      driver = await factory.create();
    });
    after(() => {
      factory.dispose();
    });

    it('stat of an absent key → undefined', async () => {
      assert.equal(await driver.stat('absent/key'), undefined);
    });

    it('put then stat → size and a modification time; get → the exact bytes', async () => {
      const bytes = Buffer.from('hello, driver');
      await driver.put('put/one', bytes);
      const info = await driver.stat('put/one');
      assert.equal(info?.size, bytes.length);
      assert.ok(info?.modifiedAt instanceof Date);
      assert.ok((await driver.get('put/one')).equals(bytes));
    });

    it('put replaces an existing object', async () => {
      await driver.put('put/replace', Buffer.from('first version, longer'));
      await driver.put('put/replace', Buffer.from('second'));
      assert.equal((await driver.get('put/replace')).toString(), 'second');
      assert.equal((await driver.stat('put/replace'))?.size, 6);
    });

    it('put of zero bytes → an empty object that exists', async () => {
      await driver.put('put/empty', new Uint8Array(0));
      assert.equal((await driver.stat('put/empty'))?.size, 0);
      assert.equal((await driver.get('put/empty')).length, 0);
      assert.equal((await readAll(await driver.read('put/empty'))).length, 0);
    });

    it('read → a stream of the whole object', async () => {
      const bytes = Buffer.alloc(1_500_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
      await driver.put('read/big', bytes);
      assert.ok((await readAll(await driver.read('read/big'))).equals(bytes));
    });

    it('read with a range → exactly the inclusive range', async () => {
      await driver.put('read/range', Buffer.from('0123456789'));
      assert.equal((await readAll(await driver.read('read/range', { start: 2, end: 5 }))).toString(), '2345');
      assert.equal((await readAll(await driver.read('read/range', { start: 9, end: 9 }))).toString(), '9');
      assert.equal((await readAll(await driver.read('read/range', { start: 0, end: 9 }))).toString(), '0123456789');
    });

    it('read / get of an absent key → NotFoundError naming the key', async () => {
      await assert.rejects(driver.read('absent/read'), (error: unknown) => error instanceof NotFoundError && error.key === 'absent/read');
      await assert.rejects(driver.get('absent/get'), (error: unknown) => error instanceof NotFoundError && error.key === 'absent/get');
    });

    it('copyTo (when offered) writes the whole object or an inclusive range into a destination', async (t) => {
      const copyTo = driver.copyTo?.bind(driver);
      if (copyTo === undefined) {
        t.skip(`${factory.name} offers no copyTo`);
        return;
      }
      const bytes = Buffer.alloc(2_500_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 253;
      await driver.put('copy/big', bytes);
      const collect = async (range?: { start: number; end: number }): Promise<Buffer> => {
        const chunks: Buffer[] = [];
        // A slow destination.
        const destination = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            // Copied only when the write is acknowledged: a buffer the driver reused before that
            // shows up as corrupted bytes.
            setImmediate(() => {
              chunks.push(Buffer.from(chunk));
              callback();
            });
          },
        });
        await copyTo('copy/big', range, destination);
        return Buffer.concat(chunks);
      };
      assert.ok((await collect()).equals(bytes));
      assert.ok((await collect({ start: 1_000_001, end: 2_100_000 })).equals(bytes.subarray(1_000_001, 2_100_001)));
      await assert.rejects(copyTo('absent/copy', undefined, new Writable({ write: (_c, _e, cb) => cb() })), (error: unknown) => error instanceof NotFoundError);
      const gone = new Writable({ write: (_c, _e, cb) => cb() });
      gone.destroy();
      await assert.rejects(copyTo('copy/big', undefined, gone));
    });

    it('sendFileTo (when offered) sends the whole object or an inclusive range to a socket', async (t) => {
      const sendFileTo = driver.sendFileTo?.bind(driver);
      if (sendFileTo === undefined) {
        t.skip(`${factory.name} offers no sendFileTo`);
        return;
      }
      const bytes = Buffer.alloc(3_000_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13) % 251;
      await driver.put('send/big', bytes);
      const { peer, client, fd, take, close } = await socketPair();
      try {
        await sendFileTo('send/big', undefined, fd, peer);
        assert.ok((await take(bytes.length)).equals(bytes));
        await sendFileTo('send/big', { start: 1_000_001, end: 2_100_000 }, fd, peer);
        assert.ok((await take(1_100_000)).equals(bytes.subarray(1_000_001, 2_100_001)));
        await assert.rejects(sendFileTo('absent/send', undefined, fd, peer), (error: unknown) => error instanceof NotFoundError);
        // The peer went away: the send fails instead of hanging.
        client.destroy();
        await new Promise((resolve) => setTimeout(resolve, 20));
        await assert.rejects(sendFileTo('send/big', undefined, fd, peer));
      } finally {
        close();
      }
    });

    it('append creates the object and a later append adds to its end', async () => {
      await appendAll(driver, 'append/one', [Buffer.from('abc'), Buffer.from('def')]);
      assert.equal((await driver.get('append/one')).toString(), 'abcdef');
      await appendAll(driver, 'append/one', [Buffer.from('ghi')]);
      assert.equal((await driver.get('append/one')).toString(), 'abcdefghi');
      assert.equal((await driver.stat('append/one'))?.size, 9);
    });

    it('append reports the size the object had when opened: where its bytes land', async () => {
      const first = await driver.append('append/size');
      assert.equal(first.size, 0);
      await pipeline(Readable.from([Buffer.from('12345')]), first.stream);
      const second = await driver.append('append/size', { last: true });
      assert.equal(second.size, 5);
      await pipeline(Readable.from([Buffer.from('678')]), second.stream);
      await driver.commit('append/size', 'append/size-committed');
      assert.equal((await driver.get('append/size-committed')).toString(), '12345678');
    });

    it('an append after a last one is committed whole (the last one is not taken as final)', async () => {
      const last = await driver.append('append/after-last', { last: true });
      await pipeline(Readable.from([Buffer.from('ab')]), last.stream);
      await appendAll(driver, 'append/after-last', [Buffer.from('cd')]);
      await driver.commit('append/after-last', 'append/after-last-committed');
      assert.equal((await driver.get('append/after-last-committed')).toString(), 'abcd');
    });

    it('append that writes nothing leaves an empty object', async () => {
      await appendAll(driver, 'append/empty', []);
      assert.equal((await driver.stat('append/empty'))?.size, 0);
    });

    it('append of many small chunks keeps them in order', async () => {
      const chunks = Array.from({ length: 2000 }, (_, i) => Buffer.from(`${i},`));
      await appendAll(driver, 'append/many', chunks);
      assert.ok((await driver.get('append/many')).equals(Buffer.concat(chunks)));
    });

    it('appends of many MiB in several streams commit whole and in order', async () => {
      // Past the filesystem driver's write-behind size (8 MiB), in streams of 12, 5 and 9 MiB.
      const mib = (fill: number, count: number): Buffer[] => Array.from({ length: count * 4 }, (_, i) => Buffer.alloc(256 * 1024, (fill + i) % 251));
      const parts = [mib(1, 12), mib(2, 5), mib(3, 9)];
      for (const chunks of parts) await appendAll(driver, 'big/upload', chunks);
      await driver.commit('big/upload', 'big/blob');
      const expected = Buffer.concat(parts.flat());
      assert.equal((await driver.stat('big/blob'))?.size, 26 * 1024 * 1024);
      assert.ok((await readAll(await driver.read('big/blob'))).equals(expected));
      await driver.delete('big/blob');
    });

    it('an append that fails midway (after more than an S3 part) leaves a prefix of its bytes at most; the next append lands at the size stat reports', async () => {
      const first = Buffer.alloc(3 * 1024 * 1024, 1);
      await appendAll(driver, 'append/failing', [first]);
      const writer = await driver.append('append/failing');
      const failing = Readable.from(
        (function* () {
          for (let i = 0; i < 24; i++) yield Buffer.alloc(256 * 1024, 2); // 6 MiB: past S3's part size
          throw new Error('the client went away');
        })(),
        { objectMode: false },
      );
      await assert.rejects(pipeline(failing, writer.stream), /went away/);
      // The filesystem keeps what reached the file; S3 keeps nothing of an append that did not finish.
      const kept = ((await driver.stat('append/failing'))?.size ?? 0) - first.length;
      assert.ok(kept >= 0 && kept <= 6 * 1024 * 1024, `${kept} bytes of the failed append kept`);
      const second = Buffer.alloc(7 * 1024 * 1024, 3);
      const next = await driver.append('append/failing', { last: true });
      assert.equal(next.size, first.length + kept);
      await pipeline(Readable.from([second]), next.stream);
      await driver.commit('append/failing', 'append/failing-committed');
      assert.ok((await readAll(await driver.read('append/failing-committed'))).equals(Buffer.concat([first, Buffer.alloc(kept, 2), second])));
      await driver.delete('append/failing-committed');
    });

    it('an object read between appends reads the bytes so far, and later appends still follow them', async () => {
      const chunks = [Buffer.alloc(6 * 1024 * 1024, 4), Buffer.alloc(2 * 1024 * 1024, 5), Buffer.alloc(1024, 6)];
      await appendAll(driver, 'append/read-between', [chunks[0] as Buffer]);
      await appendAll(driver, 'append/read-between', [chunks[1] as Buffer]);
      assert.equal((await driver.stat('append/read-between'))?.size, 8 * 1024 * 1024);
      // A range first (past an S3 upload's tail), then the whole object.
      assert.ok((await readAll(await driver.read('append/read-between', { start: 6 * 1024 * 1024 - 1, end: 6 * 1024 * 1024 }))).equals(Buffer.from([4, 5])));
      assert.ok((await readAll(await driver.read('append/read-between'))).equals(Buffer.concat(chunks.slice(0, 2))));
      await appendAll(driver, 'append/read-between', [chunks[2] as Buffer]);
      await driver.commit('append/read-between', 'append/read-between-committed');
      assert.ok((await readAll(await driver.read('append/read-between-committed'))).equals(Buffer.concat(chunks)));
      await driver.delete('append/read-between-committed');
    });

    it('commit moves the object to the new key: from is gone, to has the bytes', async () => {
      await appendAll(driver, 'uploads/u1/data', [Buffer.from('committed bytes')]);
      await driver.commit('uploads/u1/data', 'blobs/sha256/ab/abc/data');
      assert.equal(await driver.stat('uploads/u1/data'), undefined);
      assert.equal((await driver.get('blobs/sha256/ab/abc/data')).toString(), 'committed bytes');
    });

    it('commit replaces an existing target', async () => {
      await driver.put('commit/target', Buffer.from('old'));
      await driver.put('commit/source', Buffer.from('new'));
      await driver.commit('commit/source', 'commit/target');
      assert.equal((await driver.get('commit/target')).toString(), 'new');
      assert.equal(await driver.stat('commit/source'), undefined);
    });

    it('commit of an absent key rejects', async () => {
      await assert.rejects(driver.commit('commit/absent', 'commit/elsewhere'));
      assert.equal(await driver.stat('commit/elsewhere'), undefined);
    });

    it('commitBytes stores the bytes at to, replacing what was there; from is left absent', async () => {
      await driver.put('commit-bytes/target', Buffer.from('old'));
      await driver.commitBytes('commit-bytes/scratch', 'commit-bytes/target', Buffer.from('new bytes'));
      assert.equal((await driver.get('commit-bytes/target')).toString(), 'new bytes');
      assert.equal(await driver.stat('commit-bytes/scratch'), undefined);
      await driver.commitBytes('commit-bytes/scratch', 'commit-bytes/fresh/dir/empty', Buffer.alloc(0));
      assert.equal((await driver.stat('commit-bytes/fresh/dir/empty'))?.size, 0);
    });

    it('commitBytes with an object at from → ExistsError, and neither key changes', async () => {
      await driver.put('commit-bytes/taken', Buffer.from('earlier bytes'));
      await driver.put('commit-bytes/kept', Buffer.from('kept'));
      await assert.rejects(driver.commitBytes('commit-bytes/taken', 'commit-bytes/kept', Buffer.from('x')), (error: unknown) => error instanceof ExistsError && error.key === 'commit-bytes/taken');
      assert.equal((await driver.get('commit-bytes/taken')).toString(), 'earlier bytes');
      assert.equal((await driver.get('commit-bytes/kept')).toString(), 'kept');
      // An empty object counts: an upload's first PATCH may have been empty.
      await appendAll(driver, 'commit-bytes/empty', []);
      await assert.rejects(driver.commitBytes('commit-bytes/empty', 'commit-bytes/kept', Buffer.from('x')), ExistsError);
      assert.equal((await driver.get('commit-bytes/kept')).toString(), 'kept');
    });

    it('delete of a key removes it; deleting an absent key is not an error', async () => {
      await driver.put('delete/one', Buffer.from('x'));
      await driver.delete('delete/one');
      assert.equal(await driver.stat('delete/one'), undefined);
      await driver.delete('delete/one');
      await driver.delete('delete/never/existed');
    });

    it('delete of a prefix ending in / removes everything below it and nothing beside it', async () => {
      await driver.put('prefix/a/one', Buffer.from('1'));
      await driver.put('prefix/a/deep/two', Buffer.from('2'));
      await driver.put('prefix/ab/three', Buffer.from('3'));
      await driver.delete('prefix/a/');
      assert.equal(await driver.stat('prefix/a/one'), undefined);
      assert.equal(await driver.stat('prefix/a/deep/two'), undefined);
      assert.equal((await driver.get('prefix/ab/three')).toString(), '3');
      await driver.delete('prefix/absent/');
    });

    it('after a prefix is deleted, appends and commits below it work again', async () => {
      await appendAll(driver, 'again/uploads/u', [Buffer.from('one')]);
      await driver.commit('again/uploads/u', 'again/blobs/b');
      await driver.delete('again/');
      await appendAll(driver, 'again/uploads/u', [Buffer.from('two')]);
      await driver.commit('again/uploads/u', 'again/blobs/b');
      assert.equal((await driver.get('again/blobs/b')).toString(), 'two');
    });

    // Staged writes (drivers that offer stage): 12 MiB crosses several S3 parts of the suite's 5 MiB.
    const staged12 = Array.from({ length: 12 }, (_, i) => Buffer.alloc(1024 * 1024, i + 1));

    it('stage (when offered): nothing changes at the key until commit; then it holds the exact bytes, replacing the old', async (t) => {
      if (driver.stage === undefined) return t.skip('this driver does not stage writes');
      await driver.put('staged/replaced', Buffer.from('old'));
      const writer = await driver.stage('staged/replaced');
      await pipeline(Readable.from(staged12, { objectMode: false }), writer.stream);
      assert.equal((await driver.stat('staged/replaced'))?.size, 3, 'the old object until commit');
      assert.equal((await driver.get('staged/replaced')).toString(), 'old');
      await writer.commit();
      assert.ok((await driver.get('staged/replaced')).equals(Buffer.concat(staged12)));
      const fresh = await driver.stage('staged/fresh');
      await pipeline(Readable.from(staged12.slice(0, 7), { objectMode: false }), fresh.stream);
      assert.equal(await driver.stat('staged/fresh'), undefined, 'nothing at a new key until commit');
      await fresh.commit();
      assert.equal((await driver.stat('staged/fresh'))?.size, 7 * 1024 * 1024);
    });

    it('stage (when offered) of a small object and of no bytes: one object each', async (t) => {
      if (driver.stage === undefined) return t.skip('this driver does not stage writes');
      for (const [key, bytes] of [['staged/small', Buffer.from('small staged object')], ['staged/empty', Buffer.alloc(0)]] as const) {
        const writer = await driver.stage(key);
        await pipeline(Readable.from(bytes.length === 0 ? [] : [bytes], { objectMode: false }), writer.stream);
        await writer.commit();
        assert.ok((await driver.get(key)).equals(bytes), key);
        assert.equal((await driver.stat(key))?.size, bytes.length);
      }
    });

    it('stage (when offered) aborted midway, after its stream finished, or after the stream failed: nothing at the key, and commit rejects', async (t) => {
      if (driver.stage === undefined) return t.skip('this driver does not stage writes');
      // Midway: the stream is still taking bytes (several parts sent, more buffered).
      const midway = await driver.stage('staged/aborted-midway');
      for (const chunk of staged12.slice(0, 11)) midway.stream.write(chunk);
      await midway.abort();
      await assert.rejects(midway.commit());
      assert.equal(await driver.stat('staged/aborted-midway'), undefined);
      // Finished, then aborted instead of committed (a digest that did not match).
      const finished = await driver.stage('staged/aborted-finished');
      await pipeline(Readable.from(staged12, { objectMode: false }), finished.stream);
      await finished.abort();
      await assert.rejects(finished.commit());
      assert.equal(await driver.stat('staged/aborted-finished'), undefined);
      // The stream failed (the client left): the caller aborts.
      const failed = await driver.stage('staged/aborted-failed');
      const source = new Readable({ read() {} });
      const piping = pipeline(source, failed.stream);
      for (const chunk of staged12.slice(0, 6)) source.push(chunk);
      source.destroy(new Error('client went away'));
      await assert.rejects(piping);
      await failed.abort();
      assert.equal(await driver.stat('staged/aborted-failed'), undefined);
    });

    it('list yields every object below a prefix with its size, and nothing beside it', async () => {
      await driver.put('list/x/one', Buffer.from('1'));
      await driver.put('list/x/sub/two', Buffer.from('22'));
      await driver.put('list/xy/three', Buffer.from('333'));
      assert.deepEqual(await listKeys(driver, 'list/x/'), ['list/x/one', 'list/x/sub/two']);
      assert.deepEqual(await listKeys(driver, 'list/x'), ['list/x/one', 'list/x/sub/two']);
      const sizes = new Map<string, number>();
      for await (const object of driver.list('list/')) sizes.set(object.key, object.size);
      assert.deepEqual(Object.fromEntries(sizes), { 'list/x/one': 1, 'list/x/sub/two': 2, 'list/xy/three': 3 });
    });

    it('list of an absent prefix yields nothing', async () => {
      assert.deepEqual(await listKeys(driver, 'list/absent/'), []);
    });

    for (const key of ['', '/absolute', '../escape', 'a/../../escape', 'a/./b', 'a//b', 'a\\b', 'a/b c', 'nul\u0000byte', '..']) {
      it(`illegal key ${JSON.stringify(key)} is rejected by every method`, async () => {
        await assert.rejects(driver.stat(key));
        await assert.rejects(driver.read(key));
        await assert.rejects(driver.get(key));
        await assert.rejects(driver.put(key, Buffer.from('x')));
        await assert.rejects(driver.append(key));
        await assert.rejects(driver.commit(key, 'legal/key'));
        await assert.rejects(driver.commitBytes(key, 'legal/key', Buffer.from('x')));
        await assert.rejects(driver.commitBytes('legal/scratch', key, Buffer.from('x')));
        await assert.rejects(driver.delete(key));
        await assert.rejects(listKeys(driver, key));
        await driver.put('legal/source', Buffer.from('stays'));
        await assert.rejects(driver.commit('legal/source', key));
        assert.equal((await driver.get('legal/source')).toString(), 'stays');
      });
    }
  });
}

let root = '';
storageDriverSuite({
  name: 'FilesystemDriver',
  create: () => {
    root = mkdtempSync(join(tmpdir(), 'berth-driver-'));
    return new FilesystemDriver(root);
  },
  dispose: () => rmSync(root, { recursive: true, force: true }),
});

// The same driver where the native helpers were not built (no C compiler): node:fs does it all.
let plainRoot = '';
storageDriverSuite({
  name: 'FilesystemDriver without its native helpers',
  create: () => {
    plainRoot = mkdtempSync(join(tmpdir(), 'berth-driver-plain-'));
    return new FilesystemDriver(plainRoot, { sendFile: undefined, writeAndRename: undefined });
  },
  dispose: () => rmSync(plainRoot, { recursive: true, force: true }),
});

/**
 * A connected pair of loopback sockets: a sender writes into `peer` (or its descriptor `fd`), and
 * `take(n)` returns what `client` received once at least n bytes are there.
 */
async function socketPair(): Promise<{ peer: Socket; client: Socket; fd: number; take: (length: number) => Promise<Buffer>; close: () => void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [peer] = await accepted;
  const received: Buffer[] = [];
  client.on('data', (chunk: Buffer) => received.push(chunk));
  const take = async (length: number): Promise<Buffer> => {
    while (Buffer.concat(received).length < length) await new Promise((resolve) => setTimeout(resolve, 5));
    return Buffer.concat(received.splice(0));
  };
  const close = (): void => {
    client.destroy();
    peer.destroy();
    server.close();
  };
  return { peer, client, fd: (peer as Socket & { _handle: { fd: number } })._handle.fd, take, close };
}

describe('FilesystemDriver on Linux', () => {
  it('offers zero-copy sendFileTo: the native helper was built (npm run build: a C compiler and node_api.h)', { skip: process.platform !== 'linux' }, () => {
    const driver = new FilesystemDriver(tmpdir());
    assert.equal(typeof driver.sendFileTo, 'function', 'dist/native/sendfile.node is missing: install gcc and run npm run build');
  });

  it('stores small objects in one job: the write-and-rename helper was built', { skip: process.platform !== 'linux' }, () => {
    assert.equal(typeof nativeWriteAndRename, 'function', 'dist/native/write-and-rename.node is missing: install gcc and run npm run build');
  });

  for (const [how, writeAndRename] of [
    ['the native helper', nativeWriteAndRename],
    ['node:fs', undefined],
  ] as const) {
    it(`commitBytes through ${how} that fails after creating from: a system error, from removed, to unchanged`, { skip: how === 'the native helper' && nativeWriteAndRename === undefined }, async () => {
      const root = mkdtempSync(join(tmpdir(), 'berth-commit-bytes-'));
      try {
        const driver = new FilesystemDriver(root, { writeAndRename });
        // A directory where the object should go: the rename fails (EISDIR).
        mkdirSync(join(root, 'blobs', 'taken'), { recursive: true });
        await assert.rejects(driver.commitBytes('uploads/u', 'blobs/taken', Buffer.from('bytes')), (error: unknown) => {
          const { code, syscall } = error as NodeJS.ErrnoException;
          return code === 'EISDIR' && syscall === 'rename';
        });
        assert.equal(existsSync(join(root, 'uploads', 'u')), false, 'the scratch file is removed');
        assert.ok(statSync(join(root, 'blobs', 'taken')).isDirectory());
        await driver.commitBytes('uploads/u', 'blobs/free', Buffer.from('bytes'));
        assert.equal((await driver.get('blobs/free')).toString(), 'bytes');
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }

  it('where the system refuses sendfile, the rest goes through the fallback, and later sends copy', { skip: nativeSendFile === undefined }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-sendfile-refused-'));
    const { peer, fd, take, close } = await socketPair();
    try {
      // A filesystem whose files sendfile(2) refuses after the first 100,000 bytes (EINVAL), as a few
      // FUSE and network filesystems do: the real helper sends those, then the refusal comes.
      let calls = 0;
      const refusing: SendFile = async (socketFd, fileFd, offset, count) => {
        calls++;
        const sent = await (nativeSendFile as SendFile)(socketFd, fileFd, offset, Math.min(count, 100_000));
        throw Object.assign(new Error('Invalid argument'), { errno: 22, bytesSent: sent });
      };
      const driver = new FilesystemDriver(root, { sendFile: refusing });
      const bytes = Buffer.alloc(2_500_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 253;
      await driver.put('refused/big', bytes);
      await driver.sendFileTo?.('refused/big', undefined, fd, peer);
      assert.ok((await take(bytes.length)).equals(bytes), 'the body is whole, in order');
      assert.equal(calls, 1);
      await driver.sendFileTo?.('refused/big', { start: 10, end: 1_999_999 }, fd, peer);
      assert.ok((await take(1_999_990)).equals(bytes.subarray(10, 2_000_000)));
      assert.equal(calls, 1, 'after a refusal, sends copy without trying sendfile again');
    } finally {
      close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/**
 * An fdatasync whose first `failures` calls fail with EIO (as on a disk error); later calls are the
 * real one. `failed()` resolves once the first failure was delivered.
 */
function failingFdatasync(failures: number): { fdatasync: FdatasyncFunction; failed: () => Promise<void> } {
  let delivered: () => void = () => undefined;
  const failed = new Promise<void>((resolve) => (delivered = resolve));
  const fdatasync: FdatasyncFunction = (fd, callback) => {
    if (failures <= 0) {
      realFdatasync(fd, callback);
      return;
    }
    failures--;
    setImmediate(() => {
      callback(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' }));
      delivered();
    });
  };
  return { fdatasync, failed: () => failed };
}

const isEIO = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'EIO';

describe('FilesystemDriver when fdatasync fails', () => {
  let root = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'berth-fdatasync-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  // Over WRITE_BEHIND (8 MiB), so that a background fdatasync starts during the stream.
  const nineMiB = Array.from({ length: 9 }, (_, i) => Buffer.alloc(1024 * 1024, i));

  it('a failed background fdatasync fails every commit of the object until it is deleted; the target is never written', async () => {
    const { fdatasync, failed } = failingFdatasync(1);
    const driver = new FilesystemDriver(root, { fdatasync });
    await appendAll(driver, 'uploads/a', nineMiB);
    await failed();
    await assert.rejects(driver.commit('uploads/a', 'blobs/a'), isEIO);
    // A second try must not trust the bytes either: the kernel may have dropped the failed pages.
    await assert.rejects(driver.commit('uploads/a', 'blobs/a'), isEIO);
    assert.equal(await driver.stat('blobs/a'), undefined);
    assert.equal((await driver.stat('uploads/a'))?.size, 9 * 1024 * 1024, 'the upload is left for its owner to delete');
    await driver.delete('uploads/a');
    await appendAll(driver, 'uploads/a', [Buffer.from('again')]);
    await driver.commit('uploads/a', 'blobs/a');
    assert.equal((await driver.get('blobs/a')).toString(), 'again');
  });

  it('commitBytes onto such an object → ExistsError, and its commit still fails', async () => {
    const { fdatasync, failed } = failingFdatasync(1);
    const driver = new FilesystemDriver(root, { fdatasync });
    await appendAll(driver, 'uploads/b', nineMiB);
    await failed();
    await assert.rejects(driver.commitBytes('uploads/b', 'blobs/b', Buffer.from('whole')), (error: unknown) => error instanceof ExistsError);
    await assert.rejects(driver.commit('uploads/b', 'blobs/b'), isEIO);
    assert.equal(await driver.stat('blobs/b'), undefined);
  });

  it('deleting a prefix forgets the failures below it', async () => {
    const { fdatasync, failed } = failingFdatasync(1);
    const driver = new FilesystemDriver(root, { fdatasync });
    await appendAll(driver, 'prefix/uploads/c', nineMiB);
    await failed();
    await driver.delete('prefix/uploads/');
    await appendAll(driver, 'prefix/uploads/c', [Buffer.from('fresh')]);
    await driver.commit('prefix/uploads/c', 'prefix/blobs/c');
    assert.equal((await driver.get('prefix/blobs/c')).toString(), 'fresh');
  });

  it('a last stream whose fdatasync fails ends with the error', async () => {
    const { fdatasync } = failingFdatasync(1);
    const driver = new FilesystemDriver(root, { fdatasync });
    const writer = await driver.append('uploads/d', { last: true });
    await assert.rejects(pipeline(Readable.from([Buffer.from('last bytes')]), writer.stream), isEIO);
  });
});

storageDriverSuite({
  name: 'MemoryDriver',
  create: () => new MemoryDriver(),
  dispose: () => undefined,
});

storageDriverSuite({
  name: 'MemoryDriver, staging writes',
  create: () => new MemoryDriver({ stages: true }),
  dispose: () => undefined,
});

// The S3 driver on the harness's real Ceph radosgw, in a bucket of its own. A small part size makes
// the multi-part paths (server-side copy of an existing object, several parts) run on small data.
let s3Bucket = '';
storageDriverSuite({
  name: 'S3Driver (Ceph radosgw)',
  create: async () => {
    const service = s3Service();
    const client = createS3Client({ accessKey: service.accessKey, secretKey: service.secretKey, region: service.region, regionEndpoint: service.endpoint, forcePathStyle: true, secure: false, skipVerify: false });
    s3Bucket = `berth-driver-${process.pid}-${Date.now()}`;
    await client.send(new CreateBucketCommand({ Bucket: s3Bucket }));
    return new S3Driver({ client, bucket: s3Bucket, rootDirectory: 'registry/root', chunkSize: MIN_PART_SIZE, multipartCopyChunkSize: MIN_PART_SIZE, multipartCopyMaxConcurrency: 4, multipartCopyThresholdSize: MIN_PART_SIZE, storageClass: undefined, encryption: undefined, redirect: true, endpoint: service.endpoint });
  },
  dispose: () => undefined,
});

// The same with copyTo through the SDK only (what an https endpoint gets).
storageDriverSuite({
  name: 'S3Driver (Ceph radosgw), reads through the SDK only',
  create: async () => {
    const service = s3Service();
    const client = createS3Client({ accessKey: service.accessKey, secretKey: service.secretKey, region: service.region, regionEndpoint: service.endpoint, forcePathStyle: true, secure: false, skipVerify: false });
    const bucket = `berth-driver-sdk-${process.pid}-${Date.now()}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    return new S3Driver({ client, bucket, rootDirectory: 'registry/root', chunkSize: MIN_PART_SIZE, multipartCopyChunkSize: MIN_PART_SIZE, multipartCopyMaxConcurrency: 4, multipartCopyThresholdSize: MIN_PART_SIZE, storageClass: undefined, encryption: undefined, redirect: true, directGets: false });
  },
  dispose: () => undefined,
});

// What the S3 driver sends for a chunked upload, seen through a recording proxy in front of radosgw.
describe('S3Driver appends: one multipart upload across appends', () => {
  const MiB = 1024 * 1024;
  let proxy: S3RecordingProxy;
  let driver: S3Driver;
  let client: S3Client;
  const bucket = `berth-append-${process.pid}-${Date.now()}`;
  before(async () => {
    const service = s3Service();
    proxy = await startS3RecordingProxy(service.endpoint);
    client = createS3Client({ accessKey: service.accessKey, secretKey: service.secretKey, region: service.region, regionEndpoint: proxy.endpoint, forcePathStyle: true, secure: false, skipVerify: false });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    driver = new S3Driver({ client, bucket, rootDirectory: '', chunkSize: MIN_PART_SIZE, multipartCopyChunkSize: MIN_PART_SIZE, multipartCopyMaxConcurrency: 4, multipartCopyThresholdSize: 64 * MiB, storageClass: undefined, encryption: undefined, redirect: false, endpoint: proxy.endpoint });
  });
  after(async () => {
    client.destroy();
    await proxy.close();
  });

  it('8 appends of 6 MiB: no server-side copy, each byte sent once and none read back; the commit is one copy', async () => {
    const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(6 * MiB, i + 1));
    proxy.requests.length = 0;
    for (const chunk of chunks) await appendAll(driver, 'uploads/chunked/data', [chunk]);
    assert.equal((await driver.stat('uploads/chunked/data'))?.size, 48 * MiB);
    const appends = [...proxy.requests];
    assert.deepEqual(appends.filter((r) => r.copySource !== undefined).map((r) => r.query), [], 'no UploadPartCopy or CopyObject while appending');
    const sent = appends.reduce((sum, r) => sum + r.bytesIn, 0);
    const read = appends.filter((r) => r.method === 'GET').reduce((sum, r) => sum + r.bytesOut, 0);
    assert.ok(sent <= 48 * MiB + MiB, `${sent} bytes sent for 48 MiB`);
    assert.equal(read, 0, 'bytes read back');
    proxy.requests.length = 0;
    await driver.commit('uploads/chunked/data', 'blobs/chunked');
    assert.ok(proxy.requests.every((r) => r.method !== 'GET' || r.bytesOut < MIN_PART_SIZE), 'the commit reads at most the tail back');
    assert.ok((await readAll(await driver.read('blobs/chunked'))).equals(Buffer.concat(chunks)));
    await driver.delete('blobs/chunked');
  });

  it('12 appends of 3 MiB: each reads back and sends again only the tail (under 5 MiB); what is read is correct', async () => {
    const chunks = Array.from({ length: 12 }, (_, i) => Buffer.alloc(3 * MiB, i + 20));
    proxy.requests.length = 0;
    for (const chunk of chunks) await appendAll(driver, 'uploads/small/data', [chunk]);
    assert.deepEqual(proxy.requests.filter((r) => r.copySource !== undefined).map((r) => r.query), []);
    const read = proxy.requests.filter((r) => r.method === 'GET').reduce((sum, r) => sum + r.bytesOut, 0);
    assert.ok(read <= 12 * 3 * MiB, `${read} bytes read back for 36 MiB in 3 MiB appends`);
    await driver.commit('uploads/small/data', 'blobs/small');
    assert.ok((await readAll(await driver.read('blobs/small'))).equals(Buffer.concat(chunks)));
    await driver.delete('blobs/small');
  });

  it('a staged write of 17 MiB: each byte sent once, no copy, no read, no scratch key; an aborted one leaves no upload', async () => {
    const bytes = Buffer.alloc(17 * MiB, 9);
    proxy.requests.length = 0;
    const writer = await driver.stage('blobs/staged');
    await pipeline(Readable.from([bytes.subarray(0, 6 * MiB), bytes.subarray(6 * MiB)], { objectMode: false }), writer.stream);
    await writer.commit();
    const sent = proxy.requests.reduce((sum, r) => sum + r.bytesIn, 0);
    assert.ok(sent >= 17 * MiB && sent <= 17 * MiB + MiB, `${sent} bytes sent for 17 MiB`);
    assert.deepEqual(proxy.requests.filter((r) => r.copySource !== undefined || r.method === 'GET' || r.method === 'DELETE'), [], 'no copy, read or delete');
    assert.deepEqual([...new Set(proxy.requests.map((r) => r.key))], ['blobs/staged'], 'every request is to the final key');
    assert.ok((await readAll(await driver.read('blobs/staged'))).equals(bytes));
    for (let round = 0; round < 5; round++) {
      const aborted = await driver.stage('blobs/staged-aborted');
      for (let i = 0; i < 3; i++) aborted.stream.write(Buffer.alloc(4 * MiB, i));
      // Abort at once in some rounds, once the first part is under way in the others.
      if (round % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 20 * round));
      await aborted.abort();
      const open = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'blobs/staged-aborted' }));
      assert.equal(open.Uploads?.length ?? 0, 0, `round ${round}: no multipart upload left`);
      assert.equal(await driver.stat('blobs/staged-aborted'), undefined);
    }
  });

  it('copyTo over plain HTTP is one presigned GET of its own; an upload still open falls back to the SDK, which completes it, and reads right', async () => {
    const bytes = Buffer.alloc(9 * MiB);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
    await driver.put('blobs/direct', bytes);
    const collect = async (key: string, range?: { start: number; end: number }): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      await driver.copyTo(key, range, new Writable({ write: (chunk: Buffer, _e, cb) => setImmediate(() => (chunks.push(Buffer.from(chunk)), cb())) }));
      return Buffer.concat(chunks);
    };
    proxy.requests.length = 0;
    assert.ok((await collect('blobs/direct')).equals(bytes));
    assert.ok((await collect('blobs/direct', { start: 5, end: 5 * MiB })).equals(bytes.subarray(5, 5 * MiB + 1)));
    const gets = proxy.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 2);
    assert.ok(gets.every((r) => r.query.includes('X-Amz-Signature=')), 'presigned GETs (the direct path), not the SDK');
    // An upload still open (a tail and parts): refused by the direct GET, read through the SDK.
    await appendAll(driver, 'uploads/direct-open/data', [Buffer.alloc(6 * MiB, 3), Buffer.alloc(MiB, 4)]);
    assert.ok((await collect('uploads/direct-open/data')).equals(Buffer.concat([Buffer.alloc(6 * MiB, 3), Buffer.alloc(MiB, 4)])));
    await assert.rejects(collect('blobs/absent'), (error: unknown) => error instanceof NotFoundError);
    // The destination goes away mid-object: rejects, and the connection to S3 is closed.
    const leaving = new Writable({ write: (_chunk, _e, cb) => setImmediate(() => (leaving.destroy(), cb())) });
    await assert.rejects(driver.copyTo('blobs/direct', undefined, leaving));
    await driver.delete('blobs/direct');
    await driver.delete('uploads/direct-open/data');
  });

  it('a first append cut after a part was sent (destroyed without an error, as a cut request body leaves it) leaves no multipart upload', async () => {
    const writer = await driver.append('uploads/cut/data');
    writer.stream.write(Buffer.alloc(6 * MiB, 5));
    await new Promise((resolve) => setTimeout(resolve, 100));
    writer.stream.destroy();
    await once(writer.stream, 'close');
    const open = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'uploads/cut/data' }));
    assert.equal(open.Uploads?.length ?? 0, 0);
    assert.equal(await driver.stat('uploads/cut/data'), undefined);
  });

  it('deleting an object being appended to, by key or by prefix, aborts its multipart upload', async () => {
    for (const [key, target] of [['uploads/by-key/data', 'uploads/by-key/data'], ['uploads/by-prefix/data', 'uploads/by-prefix/']] as const) {
      await appendAll(driver, key, [Buffer.alloc(6 * MiB, 7)]);
      const open = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
      assert.equal(open.Uploads?.length, 1, `${key}: one open upload while appending`);
      await driver.delete(target);
      assert.equal(await driver.stat(key), undefined);
      const after = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
      assert.equal(after.Uploads?.length ?? 0, 0, `${key}: no upload left after delete(${target})`);
    }
  });
});
