// GET /healthz (liveness: the process answers; nothing else is checked, so that an outage of
// storage or the database never makes an orchestrator restart healthy processes) and GET /readyz
// (readiness: 200 when storage and metadata answer, migrations are current and the instance is not
// draining; 503 with the failing checks otherwise). Both answer HEAD too.
import { methodNotAllowed } from '../registry/errors.js';
import type { RequestContext } from './context.js';
import type { Readiness } from './readiness.js';

export function checkLiveness(ctx: RequestContext): void {
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
  ctx.sendJson(200, { status: 'ok' }, { 'Cache-Control': 'no-store' });
}

export async function checkReadiness(ctx: RequestContext, readiness: Readiness): Promise<void> {
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
  const report = await readiness.report();
  ctx.sendJson(report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not ready', checks: report.checks }, { 'Cache-Control': 'no-store' });
}
