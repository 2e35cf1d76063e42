// A whole object written at its final key and made visible only when committed (StagedWriter):
// parts of a multipart upload at that key, sent as they fill while the next one is received (one
// part in flight), completed by `commit`. S3 shows nothing at the key until then, so the caller can
// verify the bytes as they pass and commit only what it verified; no server-side copy and no
// scratch key to delete afterwards. An object smaller than one part is kept in memory and sent by
// `commit` in one PUT.
import { Writable } from 'node:stream';
import type { CompletedPart } from '@aws-sdk/client-s3';
import type { StagedWriter } from '../driver.js';
import type { AppendBackend } from './s3-append-stream.js';

type StageBackend = Pick<AppendBackend, 'chunkSize' | 'putWhole' | 'startMultipart' | 'uploadPart' | 'completeMultipart' | 'abortMultipart'>;

class StageAbortedError extends Error {
  constructor() {
    super('storage: the staged write was aborted');
    this.name = 'StageAbortedError';
  }
}

export class S3StagedWrite implements StagedWriter {
  readonly stream: Writable;
  readonly #backend: StageBackend;
  readonly #name: string;
  #pending: Buffer[] = [];
  #pendingSize = 0;
  #uploadId: string | undefined;
  readonly #parts: CompletedPart[] = [];
  /** Parts handed to S3 so far (stored or in flight). */
  #sentParts = 0;
  /** Every request to S3, in order: the part in flight (and the multipart upload's creation before the first). */
  #inflight: Promise<void> = Promise.resolve();
  #aborted = false;
  #committed = false;

  constructor(backend: StageBackend, name: string) {
    this.#backend = backend;
    this.#name = name;
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => this.#write(chunk, callback),
      final: (callback) => this.#final(callback),
    });
  }

  #write(chunk: Buffer, callback: (error?: Error | null) => void): void {
    this.#pending.push(chunk);
    this.#pendingSize += chunk.length;
    if (this.#pendingSize < this.#backend.chunkSize) {
      callback();
      return;
    }
    // The previous part may still be in flight: this one is queued behind it, and the stream
    // takes more bytes once the previous one is stored (at most one part sent, one gathered).
    const previous = this.#inflight;
    this.#sendPending();
    previous.then(() => callback(), (error: unknown) => callback(error as Error));
  }

  #final(callback: (error?: Error | null) => void): void {
    // A tail after earlier parts is the last part (any size); an object that never filled a part
    // stays in memory for commit's single PUT.
    if (this.#sentParts > 0 && this.#pendingSize > 0) this.#sendPending();
    this.#inflight.then(() => callback(), (error: unknown) => callback(error as Error));
  }

  #sendPending(): void {
    const bytes = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingSize = 0;
    const partNumber = ++this.#sentParts;
    this.#inflight = this.#inflight.then(async () => {
      if (this.#aborted) throw new StageAbortedError();
      if (this.#uploadId === undefined) this.#uploadId = await this.#backend.startMultipart(this.#name);
      this.#parts[partNumber - 1] = await this.#backend.uploadPart(this.#name, this.#uploadId, partNumber, bytes);
    });
    // Seen by #write's callback, #final, commit or abort; never an unhandled rejection meanwhile.
    this.#inflight.catch(() => undefined);
  }

  async commit(): Promise<void> {
    if (this.#aborted) throw new StageAbortedError();
    if (!this.stream.writableFinished) throw new Error('storage: a staged write is committed only after its stream finished');
    await this.#inflight;
    if (this.#uploadId === undefined) {
      await this.#backend.putWhole(this.#name, this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending));
    } else {
      await this.#backend.completeMultipart(this.#name, this.#uploadId, this.#parts);
    }
    this.#committed = true;
    this.#pending = [];
  }

  async abort(): Promise<void> {
    if (this.#committed || this.#aborted) return;
    this.#aborted = true;
    if (!this.stream.destroyed) this.stream.destroy();
    this.#pending = [];
    // Whatever was queued before the abort has settled (a part sent, or the upload just created)
    // before the upload is aborted; nothing is queued after it.
    await this.#inflight.catch(() => undefined);
    if (this.#uploadId !== undefined) await this.#backend.abortMultipart(this.#name, this.#uploadId);
  }
}
