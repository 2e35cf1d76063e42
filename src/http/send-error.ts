// The one place errors become HTTP: RegistryErrors as the spec's JSON envelope with their status,
// anything else as a logged 500 carrying the request id. Unread request bodies are not read on:
// a large or unbounded remainder closes the connection instead.
import { RegistryError } from '../registry/errors.js';
import { StorageUnavailableError } from '../storage/driver.js';
import type { RequestContext } from './context.js';

/** Remaining request bodies up to this size are read and discarded to keep the connection. */
const DRAIN_LIMIT = 1024 * 1024;

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
  } else {
    status = 500;
    ctx.log.error({ reqId: ctx.id, err: error, method: req.method, path: ctx.path }, 'internal error');
    body = { errors: [{ code: 'UNKNOWN', message: 'internal server error', detail: { requestId: ctx.id } }] };
  }
  if (!req.complete) {
    const declared = Number(req.headers['content-length']);
    if (!(declared <= DRAIN_LIMIT)) {
      headers.Connection = 'close';
      res.once('finish', () => req.destroy());
    }
  }
  ctx.sendJson(status, body, headers);
}
