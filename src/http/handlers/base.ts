// GET /v2/ (end-1): the API version check every client makes first.
import type { RequestContext } from '../context.js';

export function getBase(ctx: RequestContext): void {
  ctx.sendJson(200, {});
}
