// GET /metrics (http.debug.prometheus.path) on the main address, when there is no debug address:
// the Prometheus exposition. Open unless http.debug.prometheus.auth puts it behind access control,
// where it needs what listing the whole catalog needs.
import type { AccessController } from '../auth/access.js';
import { denied, methodNotAllowed } from '../registry/errors.js';
import type { Metrics } from '../telemetry/metrics.js';
import { authorizeRequest } from './authorize.js';
import type { RequestContext } from './context.js';

export async function serveMetrics(ctx: RequestContext, metrics: Metrics, access: AccessController | undefined): Promise<void> {
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
  if (access !== undefined) {
    const decision = await authorizeRequest(ctx, access, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    // A caller who sees only part of the catalog is not an operator.
    if (decision.listable !== undefined) {
      ctx.settings.metrics?.authRefused('denied');
      throw denied('the metrics need an administrator');
    }
  }
  const { contentType, body } = await metrics.render();
  ctx.send(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }, body);
}
