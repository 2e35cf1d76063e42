// Blob endpoints: GET/HEAD (end-2) with single ranges, DELETE (end-10).
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline, type Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { BlobInfo } from '../../registry/blob-service.js';
import { unsupported } from '../../registry/errors.js';
import { UpstreamUnavailableError } from '../../registry/proxy-errors.js';
import type { RequestContext } from '../context.js';
import { parseRange } from '../range.js';

/** Blobs up to this size are read whole and sent in one write. */
const WHOLE_READ_LIMIT = 256 * 1024;

export async function getBlob(ctx: RequestContext): Promise<void> {
  let blob = await ctx.registry.blobs.stat(ctx.name, ctx.digest, ctx.isHead);
  if (blob.arriving !== undefined && ctx.header('range') !== undefined) {
    // A Range of a blob arriving from the upstream is answered once the whole blob is verified and
    // stored (a slice sent earlier would be bytes nobody verified); the fill is the one every pull shares.
    await blob.arriving.stored();
    blob = await ctx.registry.blobs.stat(ctx.name, ctx.digest, true);
  }
  const etag = `"${blob.digest}"`;
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': blob.digest,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'max-age=31536000, immutable',
  };
  if (blob.arriving !== undefined) {
    sendArriving(ctx, blob, blob.arriving.open(), headers);
    return;
  }
  if (ctx.header('if-none-match') === etag) {
    ctx.send(304, headers);
    return;
  }
  const range = parseRange(ctx.header('range'), blob.size);
  const status = range === undefined ? 200 : 206;
  const length = range === undefined ? blob.size : range.end - range.start + 1;
  headers['Content-Length'] = length;
  if (range !== undefined) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${blob.size}`;
  if (ctx.isHead) {
    ctx.send(status, headers);
    return;
  }
  if (blob.manifestPayload !== undefined) {
    ctx.send(status, headers, range === undefined ? blob.manifestPayload : blob.manifestPayload.subarray(range.start, range.end + 1));
    served(ctx, blob, 'manifest', length);
    return;
  }
  // Only a redirecting driver costs the GET an extra await; the filesystem's stays as it was.
  const location = ctx.registry.blobs.redirects ? await ctx.registry.blobs.redirectUrl(blob.digest) : undefined;
  if (location !== undefined) {
    // The bytes go from the object store to the client (which sends its Range there); HEAD stayed here.
    ctx.send(307, { Location: location, 'Docker-Content-Digest': blob.digest, 'Cache-Control': 'no-store' });
    ctx.registry.blobs.pulled(ctx.name, blob, ctx);
    return;
  }
  if (range === undefined && blob.size <= WHOLE_READ_LIMIT) {
    // Small blobs (configs, small layers) go out in one write, without a read stream.
    const bytes = await ctx.registry.blobs.readWhole(blob.digest);
    if (bytes.length !== blob.size) throw new Error(`stored blob ${blob.digest} has ${bytes.length} bytes, metadata says ${blob.size}`);
    ctx.send(status, headers, bytes);
    served(ctx, blob, 'blob', bytes.length);
    return;
  }
  const socketFd = plainSocketFd(ctx);
  if (socketFd !== undefined && ctx.registry.blobs.canSendFile) {
    // Zero-copy: the headers go out through Node, then the body straight from the file, once the
    // response owns the connection and nothing of the headers is left queued in Node or libuv
    // (otherwise the body is copied after them).
    ctx.res.writeHead(status, headers);
    ctx.res.flushHeaders();
    const socket = ctx.req.socket as Socket & { _handle?: { writeQueueSize?: number } };
    if (!(await ownsConnection(ctx.res, socket))) {
      ctx.res.destroy();
      return;
    }
    await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
    if (ctx.res.writableLength === 0 && socket._handle?.writeQueueSize === 0 && !socket.destroyed) {
      try {
        await ctx.registry.blobs.sendFileTo(blob.digest, range, socketFd, ctx.res);
      } catch (error) {
        // The socket's error from sendfile, or a response already destroyed under the copy fallback.
        const peerLeft = (error as NodeJS.ErrnoException).errno !== undefined || ctx.res.destroyed;
        // Past the headers nothing can be reported: cutting the connection shows a short body.
        ctx.res.destroy();
        if (peerLeft) ctx.log.debug({ reqId: ctx.id, err: error }, 'blob send ended early (the client went away)');
        else ctx.log.error({ reqId: ctx.id, err: error }, 'blob send failed');
        return;
      }
      ctx.res.end();
      served(ctx, blob, 'blob', length);
      return;
    }
  }
  // (After a zero-copy attempt that found the headers still queued, they are already out.)
  if (ctx.registry.blobs.canCopy) {
    // The headers go out with the first bytes, so that a failure before them (S3 down) is still
    // answered with its own status and envelope.
    if (!ctx.res.headersSent) {
      ctx.res.statusCode = status;
      for (const [name, value] of Object.entries(headers)) ctx.res.setHeader(name, value);
    }
    try {
      await ctx.registry.blobs.copyTo(blob.digest, range, ctx.res);
    } catch (error) {
      if (ctx.res.destroyed) return; // the client went away mid-blob
      if (!ctx.res.headersSent) for (const name of Object.keys(headers)) ctx.res.removeHeader(name);
      throw error;
    }
    ctx.res.end();
    served(ctx, blob, 'blob', length);
    return;
  }
  const source = await ctx.registry.blobs.read(blob.digest, range);
  if (!ctx.res.headersSent) ctx.res.writeHead(status, headers);
  pipeline(source, ctx.res, (error) => {
    if (error !== undefined && error !== null && ctx.res.writableFinished === false) {
      ctx.log.debug({ reqId: ctx.id, err: error }, 'blob stream ended early');
    } else {
      served(ctx, blob, 'blob', length);
    }
  });
}

/**
 * A blob arriving from an upstream, sent as it arrives: the whole of it (a Range is answered once
 * the blob is stored), its length when the upstream gave one. If the fill fails (bad or short bytes,
 * the upstream went away) the connection is cut: the client sees a body that never completed.
 */
function sendArriving(ctx: RequestContext, blob: BlobInfo, source: Readable, headers: Record<string, string | number>): void {
  delete headers['Accept-Ranges'];
  if (blob.size >= 0) headers['Content-Length'] = blob.size;
  ctx.res.writeHead(200, headers);
  pipeline(source, ctx.res, (error) => {
    if (error === undefined || error === null) {
      served(ctx, blob, 'blob', blob.size);
      return;
    }
    if (ctx.res.destroyed && source.destroyed && !(error instanceof UpstreamUnavailableError)) ctx.log.debug({ reqId: ctx.id, err: error }, 'the client left a blob arriving from the upstream');
    else ctx.log.warn({ reqId: ctx.id, err: error }, 'blob from the upstream failed; the transfer was cut');
  });
}

/** A GET served in full: its bytes to the metrics, a pull event to the endpoints that want pulls. */
function served(ctx: RequestContext, blob: BlobInfo, kind: 'blob' | 'manifest', length: number): void {
  ctx.settings.metrics?.bytesPulled(kind, length);
  ctx.registry.proxy?.sent(ctx.name, kind, length);
  ctx.registry.blobs.pulled(ctx.name, blob, ctx);
}

/**
 * Resolves true once the response owns its connection, false if the connection closed first. Until
 * an earlier response on the connection has finished (a pipelined request, or the next request read
 * before the last response's 'finish' ran), Node holds this response's headers back: a body sent
 * to the socket meanwhile would go out ahead of them, or into the earlier response.
 */
function ownsConnection(res: ServerResponse, socket: Socket): Promise<boolean> {
  if (res.socket === socket) return Promise.resolve(true);
  if (socket.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const settle = (owned: boolean): void => {
      res.off('socket', onSocket);
      socket.off('close', onClose);
      resolve(owned);
    };
    const onSocket = (): void => settle(res.socket === socket);
    const onClose = (): void => settle(false);
    res.once('socket', onSocket);
    socket.once('close', onClose);
  });
}

/**
 * The descriptor of the request's socket when a body may be sent to it directly: a plain TCP
 * connection (TLS must encrypt in user space). getBlob still waits until nothing is queued for it.
 */
function plainSocketFd(ctx: RequestContext): number | undefined {
  const socket = ctx.req.socket as Socket & { _handle?: { fd?: number } };
  if (socket instanceof TLSSocket) return undefined;
  const fd = socket._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

export async function deleteBlob(ctx: RequestContext): Promise<void> {
  if (!ctx.registry.options.deleteEnabled) throw unsupported('deletes are disabled (storage.delete.enabled)');
  await ctx.registry.blobs.delete(ctx.name, ctx.digest, ctx);
  ctx.send(202, {});
}
