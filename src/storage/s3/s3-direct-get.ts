// A GET of an S3 object (or a range of it) written straight into a Writable, on a connection of its
// own whose reads land in a few reused buffers. Through the SDK (node:http's client) every socket read
// is a fresh 64 KiB buffer, shrunk by a copy to the bytes read, that V8 counts as external memory:
// pulling from radosgw ran a full mark-compact every ~29 MiB and spent about 42% of the server's CPU
// in the collector (bench/README.md, 2026-12-04). Here a read goes into a buffer of a shared free
// list (net.Socket's `onread`), is written to the destination as it is, and the buffer returns to
// the list when the destination has taken it: nothing is allocated per read.
//
// Only the plain-HTTP case, with a presigned URL (SigV4 in the query, the Range header unsigned) and
// `Connection: close`: a response whose body cannot be taken as it is (not 200/206, chunked, an
// upload still open) is refused before anything is written, and the caller reads through the SDK
// instead, which also gives errors and retries their usual form. Written by hand because no HTTP
// client offers reads into caller-owned buffers; it parses no more HTTP than a GET's head.
import net from 'node:net';
import type { Writable } from 'node:stream';
import type { ByteRange } from '../driver.js';

const BUFFER_SIZE = 256 * 1024;
/** Buffers one GET may have in the destination at once; it pauses its socket at this many. */
const IN_FLIGHT = 4;
/** Free buffers kept for later GETs (16 MiB); more are let go. */
const FREE_LIMIT = 64;
const HEAD_LIMIT = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

const free: Buffer[] = [];

function takeBuffer(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(BUFFER_SIZE);
}

function giveBack(buffer: Buffer): void {
  if (free.length < FREE_LIMIT) free.push(buffer);
}

/** Nothing was written to the destination: the caller may GET the object another way. */
export class DirectGetRefusedError extends Error {
  constructor(reason: string) {
    super(`storage: direct S3 GET refused (${reason})`);
    this.name = 'DirectGetRefusedError';
  }
}

interface Head {
  readonly status: number;
  readonly headers: Map<string, string>;
}

function parseHead(text: string): Head | undefined {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (status === null) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(status[1]), headers };
}

/**
 * GETs `url` (http:, presigned) with an optional Range into `destination`, which it does not end;
 * resolves once the destination took every byte of the body. Rejects with DirectGetRefusedError when
 * nothing was written (connection failed, a status other than 200/206, a body not sent as it is, a
 * header that `refuse` returns a reason for), otherwise with the error that cut the transfer.
 */
export function directGet(url: URL, range: ByteRange | undefined, destination: Writable, timeoutMs: number, refuse: (headers: Map<string, string>) => string | undefined): Promise<void> {
  if (destination.destroyed) return Promise.reject(new DirectGetRefusedError('the destination is closed'));
  return new Promise<void>((resolve, reject) => {
    let head: Buffer | undefined;
    let expected = -1;
    let received = 0;
    let wrote = false;
    let inFlight = 0;
    let paused = false;
    let settled = false;

    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      destination.off('close', onDestinationClose);
      socket.destroy();
      if (error === undefined) resolve();
      else reject(wrote || error instanceof DirectGetRefusedError ? error : new DirectGetRefusedError(error.message));
    };
    const onDestinationClose = (): void => finish(new Error('the destination closed before the object was sent'));

    const written = (buffer: Buffer) => (error?: Error | null): void => {
      inFlight--;
      giveBack(buffer);
      if (error !== undefined && error !== null) {
        finish(error);
        return;
      }
      if (received === expected && inFlight === 0) finish();
      else if (paused && !settled && inFlight < IN_FLIGHT) {
        paused = false;
        socket.resume();
      }
    };

    /** Body bytes buffer[start, end): to the destination; false to pause the socket. */
    const body = (buffer: Buffer, start: number, end: number): boolean => {
      if (end <= start) {
        giveBack(buffer);
        return true;
      }
      if (received + (end - start) > expected) {
        finish(new Error(`S3 sent more than the ${expected} bytes it announced`));
        return false;
      }
      received += end - start;
      inFlight++;
      wrote = true;
      destination.write(buffer.subarray(start, end), written(buffer));
      if (inFlight >= IN_FLIGHT) paused = true;
      return !paused;
    };

    /** A response head (and perhaps the first body bytes) in `buffer[0, n)`. */
    const headBytes = (buffer: Buffer, n: number): boolean => {
      const before = head?.length ?? 0;
      head = head === undefined ? Buffer.from(buffer.subarray(0, n)) : Buffer.concat([head, buffer.subarray(0, n)]);
      const end = head.indexOf(CRLFCRLF);
      if (end < 0) {
        giveBack(buffer);
        if (head.length > HEAD_LIMIT) finish(new DirectGetRefusedError('response head too large'));
        return true;
      }
      const parsed = parseHead(head.toString('latin1', 0, end));
      const length = Number(parsed?.headers.get('content-length'));
      let reason: string | undefined;
      if (parsed === undefined) reason = 'not an HTTP response';
      else if (parsed.status !== 200 && parsed.status !== 206) reason = `status ${parsed.status}`;
      else if (parsed.headers.has('transfer-encoding') || !Number.isSafeInteger(length) || length < 0) reason = 'no Content-Length';
      else reason = refuse(parsed.headers);
      if (reason !== undefined) {
        giveBack(buffer);
        finish(new DirectGetRefusedError(reason));
        return false;
      }
      expected = length;
      // The body's first bytes are the rest of this read.
      const ok = body(buffer, end + 4 - before, n);
      if (expected === 0 || (received === expected && inFlight === 0)) finish();
      return ok;
    };

    const socket = net.connect({
      host: url.hostname,
      port: url.port === '' ? 80 : Number(url.port),
      noDelay: true,
      onread: {
        buffer: takeBuffer,
        callback: (n: number, buffer: Uint8Array): boolean => {
          if (settled) return false;
          const read = buffer as Buffer;
          return expected < 0 ? headBytes(read, n) : body(read, 0, n);
        },
      },
    });
    socket.setTimeout(timeoutMs, () => finish(new Error(`S3 GET timed out after ${timeoutMs} ms`)));
    socket.on('error', (error) => finish(error));
    socket.on('close', () => {
      if (expected < 0 || received < expected) finish(new Error(`S3 closed the connection after ${received} of ${expected < 0 ? '?' : expected} bytes`));
    });
    socket.on('connect', () => {
      const target = `${url.pathname}${url.search}`;
      const rangeLine = range === undefined ? '' : `Range: bytes=${range.start}-${range.end}\r\n`;
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\n${rangeLine}Connection: close\r\n\r\n`, 'latin1');
    });
    destination.on('close', onDestinationClose);
  });
}
