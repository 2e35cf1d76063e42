// Appends to an S3 object, which S3 cannot do in place. An object being appended to is a multipart
// upload kept open across appends plus a tail: the object at the key holds the bytes not yet in a
// part (under 5 MiB: an append ends by sending a larger tail as a part) and, in its user metadata,
// the upload's id and how many parts and bytes precede the tail. Every instance reads that state
// with one HEAD; an append re-sends only the tail, never the parts, so a push of n bytes in chunks
// costs O(n) (it was O(n^2): each append copied every earlier byte server-side again).
// Rewriting the tail object is the commit point of an append: parts uploaded before a crash that
// preceded it are beyond the recorded count, and the next append overwrites them. A part is sent
// while the next one's bytes arrive (one in flight); the append ends only when every part is stored.
import { Writable } from 'node:stream';
import type { CompletedPart } from '@aws-sdk/client-s3';

/** S3's smallest part (except the last one of an upload). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's largest single copy (CopyObject or one UploadPartCopy). */
export const MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024;

/** A multipart upload left open by earlier appends, as the tail object's metadata records it. */
export interface OpenUpload {
  readonly uploadId: string;
  /** Parts 1..parts hold the object's first `partsSize` bytes. */
  readonly parts: number;
  readonly partsSize: number;
}

/** The object at a key, as a HEAD sees it. */
export interface AppendTarget {
  /** Bytes of the object itself (the tail, when `open`). */
  readonly objectSize: number;
  readonly open: OpenUpload | undefined;
}

/** What the stream needs of the driver (full S3 key names). */
export interface AppendBackend {
  readonly chunkSize: number;
  readWhole(name: string): Promise<Buffer>;
  putWhole(name: string, bytes: Buffer, open?: OpenUpload): Promise<void>;
  startMultipart(name: string): Promise<string>;
  uploadPart(name: string, uploadId: string, partNumber: number, bytes: Buffer): Promise<CompletedPart>;
  copyPart(name: string, uploadId: string, partNumber: number, source: string, start: number, end: number): Promise<CompletedPart>;
  /** Parts 1..upTo of an open upload, with their ETags. */
  listParts(name: string, uploadId: string, upTo: number): Promise<CompletedPart[]>;
  completeMultipart(name: string, uploadId: string, parts: readonly CompletedPart[]): Promise<void>;
  abortMultipart(name: string, uploadId: string): Promise<void>;
}

/** Ranges of at most MAX_COPY_SIZE, none below MIN_PART_SIZE, covering `size` bytes (size ≥ MIN_PART_SIZE). */
export function copyRanges(size: number): { start: number; end: number }[] {
  const count = Math.ceil(size / MAX_COPY_SIZE);
  const each = Math.ceil(size / count);
  const ranges: { start: number; end: number }[] = [];
  for (let start = 0; start < size; start += each) ranges.push({ start, end: Math.min(size, start + each) - 1 });
  return ranges;
}

export class AppendStream extends Writable {
  readonly #backend: AppendBackend;
  readonly #name: string;
  readonly #target: AppendTarget | undefined;
  /** The caller commits right after: the stream completes the upload into a whole object. */
  readonly #last: boolean;
  #pending: Buffer[] = [];
  #pendingSize = 0;
  #wrote = 0;
  #started = false;
  #uploadId: string | undefined;
  /** Whether this stream created the upload (only then is it aborted on failure). */
  #created = false;
  #recordedParts = 0;
  #recordedSize = 0;
  /** Parts this stream uploaded, after the recorded ones. */
  readonly #newParts: CompletedPart[] = [];
  #newPartsSize = 0;
  /** The part being sent while the stream takes the next one's bytes (settled: none). */
  #inflight: Promise<void> = Promise.resolve();

  constructor(backend: AppendBackend, name: string, target: AppendTarget | undefined, last: boolean) {
    super();
    this.#backend = backend;
    this.#name = name;
    this.#target = target;
    this.#last = last;
    this.#uploadId = target?.open?.uploadId;
    this.#recordedParts = target?.open?.parts ?? 0;
    this.#recordedSize = target?.open?.partsSize ?? 0;
  }

  /** The bytes the new ones follow: the tail of an open upload, or a whole object small enough to send again. */
  async #start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const size = this.#target?.objectSize ?? 0;
    if (size === 0) return;
    if (this.#target?.open === undefined && size >= MIN_PART_SIZE) {
      // A whole object (an upload completed earlier, e.g. read meanwhile): its bytes become the
      // first parts of a new upload by server-side copy.
      await this.#ensureUpload();
      for (const range of copyRanges(size)) {
        this.#newParts.push(await this.#backend.copyPart(this.#name, this.#uploadId as string, this.#nextPart(), this.#name, range.start, range.end));
      }
      this.#newPartsSize += size;
      return;
    }
    const tail = await this.#backend.readWhole(this.#name);
    this.#pending.unshift(tail);
    this.#pendingSize += tail.length;
  }

  #nextPart(): number {
    return this.#recordedParts + this.#newParts.length + 1;
  }

  async #ensureUpload(): Promise<void> {
    if (this.#uploadId !== undefined) return;
    this.#uploadId = await this.#backend.startMultipart(this.#name);
    this.#created = true;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#take(chunk).then(() => callback(), (error: unknown) => callback(error as Error));
  }

  async #take(chunk: Buffer): Promise<void> {
    await this.#start();
    this.#pending.push(chunk);
    this.#pendingSize += chunk.length;
    this.#wrote += chunk.length;
    if (this.#pendingSize >= this.#backend.chunkSize) {
      // One part in flight while the next is gathered: the stream takes more bytes once the part
      // before this one is stored.
      const bytes = this.#takePending();
      const previous = this.#inflight;
      this.#inflight = previous.then(() => this.#sendPart(bytes));
      this.#inflight.catch(() => undefined);
      await previous;
    }
  }

  #takePending(): Buffer {
    const bytes = Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingSize = 0;
    return bytes;
  }

  /** Sends the next part (never two at once: each waits for the one before). */
  async #sendPart(bytes: Buffer): Promise<void> {
    await this.#ensureUpload();
    this.#newParts.push(await this.#backend.uploadPart(this.#name, this.#uploadId as string, this.#nextPart(), bytes));
    this.#newPartsSize += bytes.length;
  }

  async #flushPart(): Promise<void> {
    await this.#inflight;
    await this.#sendPart(this.#takePending());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#finish().then(() => callback(), (error: unknown) => callback(error as Error));
  }

  async #finish(): Promise<void> {
    await this.#inflight;
    const absent = this.#target === undefined;
    if (this.#wrote === 0 && !absent && !(this.#last && this.#target?.open !== undefined)) return; // nothing changes
    await this.#start();
    // A part need only be 5 MiB (chunksize is the most gathered in memory): a tail that large goes
    // as a part now rather than be read back and sent again by the next append.
    if (!this.#last && this.#pendingSize >= MIN_PART_SIZE) await this.#flushPart();
    if (this.#uploadId === undefined) {
      // Never reached a part: the whole object (old bytes and new) in one PUT.
      await this.#backend.putWhole(this.#name, Buffer.concat(this.#pending));
      return;
    }
    if (!this.#last) {
      // The commit point: the new tail, naming every part before it.
      const open = { uploadId: this.#uploadId, parts: this.#recordedParts + this.#newParts.length, partsSize: this.#recordedSize + this.#newPartsSize };
      await this.#backend.putWhole(this.#name, Buffer.concat(this.#pending), open);
      return;
    }
    if (this.#pendingSize > 0 || this.#recordedParts + this.#newParts.length === 0) await this.#flushPart();
    const earlier = this.#recordedParts === 0 ? [] : await this.#backend.listParts(this.#name, this.#uploadId, this.#recordedParts);
    await this.#backend.completeMultipart(this.#name, this.#uploadId, [...earlier, ...this.#newParts]);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // An upload earlier appends left open holds acknowledged bytes: it stays, with its recorded tail.
    // One this stream created is named by nothing until the stream finishes: cut before that (with
    // an error, or destroyed without one as a request body's copy does), it is aborted.
    if (error !== null || !this.writableFinished) {
      // After the part in flight (and the upload's creation) settled, so that nothing follows the abort.
      this.#inflight
        .catch(() => undefined)
        .then(() => (this.#created && this.#uploadId !== undefined ? this.#backend.abortMultipart(this.#name, this.#uploadId) : undefined))
        .then(() => callback(error), () => callback(error));
      return;
    }
    callback(error);
  }
}
