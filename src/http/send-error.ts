// The one place errors become HTTP: RegistryErrors as the spec's JSON envelope with their status,
// anything else as a logged 500 carrying the request id. An error sent before the request body was
// read (413, 401/403/404 on an upload, quota or read-only refusals) must still reach the client:
// closing a socket with unread bytes in its receive queue makes the kernel answer RST, and a client
// still writing its body then sees ECONNRESET instead of the response. So the response is written
// whole with `Connection: close`, the rest of the body is read and discarded up to a bound, and only
// then is the response ended (and the connection closed).
import { RegistryError } from '../registry/errors.js';
import { UpstreamUnavailableError } from '../registry/proxy-errors.js';
import { StorageUnavailableError } from '../storage/driver.js';
import type { RequestContext } from './context.js';

/** A declared remainder up to this size is read and discarded by Node and the connection kept. */
const KEEP_ALIVE_LIMIT = 1024 * 1024;
/**
 * Past the response, discard at most this much of an unread body before closing. Twice the default
 * `validation.manifests.maxsize` (4 MiB), so an over-cap manifest from a client that writes its
 * whole body before reading is read off the wire and the client gets its 413 with no reset; beyond
 * it (a refused multi-GiB blob PATCH) reading on costs bandwidth for nothing, and the client has had
 * the response for as long as those 8 MiB took to arrive.
 */
export const DRAIN_BYTES = 8 * 1024 * 1024;
/** And for at most this long: a stalled or slow sender does not hold a connection after its answer. */
export const DRAIN_MS = 5000;

export function sendError(ctx: RequestContext, error: unknown): void {
  const { res, req } = ctx;
  if (res.headersSent) {
    ctx.log.warn({ reqId: ctx.id, err: error }, 'error after the response started; closing the connection');
    res.destroy();
    return;
  }
  let status: number;
  let body: object;
  let headers: Record<string, string | number> = {};
  if (error instanceof RegistryError) {
    status = error.status;
    headers = { ...error.headers };
    // Domain errors name paths; like every other Location, it is absolute when http.host is set.
    if (headers.Location !== undefined) headers.Location = ctx.url(String(headers.Location));
    body = { errors: [{ code: error.code, message: error.message, detail: error.detail ?? null }] };
  } else if (error instanceof StorageUnavailableError) {
    // An outage, not the client's fault and not a bug: distribution's UNAVAILABLE, retry later.
    status = 503;
    headers = { 'Retry-After': 5 };
    ctx.log.error({ reqId: ctx.id, err: error, method: req.method, path: ctx.path }, 'storage unavailable');
    body = { errors: [{ code: 'UNAVAILABLE', message: 'storage is unavailable, retry later', detail: { requestId: ctx.id } }] };
  } else if (error instanceof UpstreamUnavailableError) {
    // The upstream of a proxied repository is down, failing or sent bad bytes, and nothing is cached.
    status = 503;
    headers = { 'Retry-After': error.retryAfterSeconds };
    ctx.log.warn({ reqId: ctx.id, err: error, method: req.method, path: ctx.path }, 'upstream unavailable');
    body = { errors: [{ code: 'UNAVAILABLE', message: 'the upstream registry is unavailable, retry later', detail: { requestId: ctx.id } }] };
  } else {
    status = 500;
    ctx.log.error({ reqId: ctx.id, err: error, method: req.method, path: ctx.path }, 'internal error');
    body = { errors: [{ code: 'UNKNOWN', message: 'internal server error', detail: { requestId: ctx.id } }] };
  }
  if (!req.complete && !req.destroyed && !(Number(req.headers['content-length']) <= KEEP_ALIVE_LIMIT)) {
    sendThenDrain(ctx, status, body, headers);
    return;
  }
  ctx.sendJson(status, body, headers);
}

/**
 * Writes the whole response (it carries Content-Length, so the client has all of it) but holds its
 * end until the request body has been read and discarded, up to DRAIN_BYTES or DRAIN_MS. Ending the
 * response then closes the connection (`Connection: close`): with nothing unread when the body was
 * drained to its end, else with a reset the client no longer needs.
 */
function sendThenDrain(ctx: RequestContext, status: number, value: object, headers: Record<string, string | number>): void {
  const { req, res } = ctx;
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers, 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  if (!ctx.isHead) res.write(body);
  let discarded = 0;
  let timer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    req.off('data', count);
    req.off('end', finish);
    req.off('close', finish);
    req.pause();
    res.end();
  };
  const count = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > DRAIN_BYTES) finish();
  };
  timer = setTimeout(finish, DRAIN_MS);
  timer.unref();
  req.on('data', count);
  req.once('end', finish);
  req.once('close', finish);
  req.resume();
}
