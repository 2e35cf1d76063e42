// The operators' listener on http.debug.addr: the metrics (at http.debug.prometheus.path), /healthz
// and /readyz, with no access control (the address is meant to stay off the public network), and
// 404 for anything else.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { methodNotAllowed, notFound } from '../registry/errors.js';
import type { Registry } from '../registry/registry.js';
import type { Metrics } from '../telemetry/metrics.js';
import { RequestContext } from './context.js';
import { checkLiveness, checkReadiness } from './health.js';
import type { Readiness } from './readiness.js';
import { splitTarget } from './router.js';
import { sendError } from './send-error.js';

export interface DebugDependencies {
  readonly registry: Registry;
  readonly log: Logger;
  readonly metrics: Metrics | undefined;
  readonly metricsPath: string;
  readonly readiness: Readiness;
}

export function createDebugListener(deps: DebugDependencies): (req: IncomingMessage, res: ServerResponse) => void {
  const settings = { baseUrl: undefined, relativeUrls: true, headers: {}, metrics: deps.metrics };
  return (req, res) => {
    const id = randomUUID();
    res.setHeader('X-Request-Id', id);
    let path = '/';
    let query = new URLSearchParams();
    try {
      ({ path, query } = splitTarget(req.url ?? '/'));
    } catch {
      // answered as 404 below
    }
    const ctx = new RequestContext(req, res, id, deps.registry, deps.log, settings, path, query);
    const serve = async (): Promise<void> => {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
      if (path === '/healthz') return checkLiveness(ctx);
      if (path === '/readyz') return checkReadiness(ctx, deps.readiness);
      if (deps.metrics !== undefined && path === deps.metricsPath) {
        const { contentType, body } = await deps.metrics.render();
        ctx.send(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }, body);
        return;
      }
      throw notFound();
    };
    serve().catch((error: unknown) => sendError(ctx, error));
  };
}
