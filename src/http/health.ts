// GET /healthz: 200 when the metadata store answers and the storage driver can be read, else 503.
import type { RequestContext } from './context.js';

export async function checkHealth(ctx: RequestContext): Promise<void> {
  const checks: Record<string, string> = {};
  let healthy = true;
  try {
    await ctx.registry.metadata.hasRepository('healthz');
    checks.metadata = 'ok';
  } catch (error) {
    healthy = false;
    checks.metadata = (error as Error).message;
  }
  try {
    await ctx.registry.storage.stat('healthz');
    checks.storage = 'ok';
  } catch (error) {
    healthy = false;
    checks.storage = (error as Error).message;
  }
  ctx.sendJson(healthy ? 200 : 503, { status: healthy ? 'ok' : 'unhealthy', checks });
}
