// Copying a request body into a storage writer in one pass: each chunk is inspected (hashed, counted,
// checked against a limit) before it is written, with backpressure. Written here rather than taken
// from stream.pipeline, which allocates an AbortController per call and, as it finishes, an
// AbortError with a captured stack trace: measurable when thousands of small blobs are pushed a
// second. Unlike pipeline it leaves the request open on failure, so that the error can still be
// answered (send-error.ts decides whether the rest of the body is read or the connection closed).
import { Writable, type Readable } from 'node:stream';

export class BodyEndedEarlyError extends Error {
  constructor() {
    super('the request body ended early: the client closed the connection');
    this.name = 'BodyEndedEarlyError';
  }
}

/**
 * Writes every chunk of `source` to `destination` and ends it; resolves once `destination` finished.
 * `inspect` sees each chunk first and may throw to refuse it (it is then not written); when it returns
 * a promise, the source is paused until that settles (as it is while `destination` is full). On any
 * failure the destination is destroyed, the source is left to drain, and the promise rejects.
 */
export function copyBody(source: Readable, destination: Writable, inspect: (chunk: Buffer) => Promise<void> | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    // Why the source is paused: the destination is full, an inspection is pending, or both.
    let full = false;
    let inspecting = false;
    const resumeIfFree = (): void => {
      if (!settled && !full && !inspecting) source.resume();
    };
    const detach = (): void => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('close', onSourceClose);
      destination.off('drain', onDrain);
      destination.off('finish', onFinish);
    };
    // Error listeners stay: a late error on either stream must not go unhandled.
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      detach();
      destination.destroy();
      source.resume();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    function onData(chunk: Buffer): void {
      let pending: Promise<void> | undefined;
      try {
        pending = inspect(chunk);
      } catch (error) {
        fail(error);
        return;
      }
      if (!destination.write(chunk)) {
        full = true;
        source.pause();
      }
      if (pending !== undefined) {
        inspecting = true;
        source.pause();
        pending.then(() => {
          inspecting = false;
          resumeIfFree();
        }, fail);
      }
    }
    function onDrain(): void {
      full = false;
      resumeIfFree();
    }
    function onEnd(): void {
      destination.end();
    }
    function onSourceClose(): void {
      if (!source.readableEnded) fail(new BodyEndedEarlyError());
    }
    function onFinish(): void {
      if (settled) return;
      settled = true;
      detach();
      resolve();
    }
    source.on('error', fail);
    destination.on('error', fail);
    destination.on('drain', onDrain);
    destination.once('finish', onFinish);
    if (source.readableEnded) {
      destination.end();
      return;
    }
    source.once('end', onEnd);
    source.once('close', onSourceClose);
    source.on('data', onData);
  });
}

/**
 * Reads a body declared to be `length` bytes into one buffer, with copyBody's handling of failures
 * (unlike http/body.ts, which reads manifests and may leave the request unreadable), and returns the
 * bytes it had (fewer only if the source ended short). A body longer than `length` is refused with
 * `tooLong()`.
 */
export async function bufferBody(source: Readable, length: number, tooLong: () => Error): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  const into = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (filled + chunk.length > length) {
        callback(tooLong());
        return;
      }
      filled += chunk.copy(bytes, filled);
      callback();
    },
  });
  await copyBody(source, into, () => undefined);
  return filled === length ? bytes : bytes.subarray(0, filled);
}
