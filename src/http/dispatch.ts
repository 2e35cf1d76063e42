// The request listener: match the route (early 404/405), build the context, authorize the scopes
// the route needs, run the handler; anything thrown goes to sendError.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AccessController, Scope } from '../auth/access.js';
import type { TokenService } from '../auth/token-service.js';
import { readOnly } from '../registry/errors.js';
import type { Registry } from '../registry/registry.js';
import { authorizeRequest } from './authorize.js';
import { RequestContext, type HttpSettings } from './context.js';
import { serveTokenEndpoint } from './handlers/token.js';
import { checkHealth } from './health.js';
import { isUsagePath, serveUsage } from './usage.js';
import { match, splitTarget, type Match } from './router.js';
import { WRITE_METHODS } from './routes.js';
import { sendError } from './send-error.js';

export interface DispatchDependencies {
  readonly registry: Registry;
  readonly access: AccessController;
  readonly log: Logger;
  readonly settings: HttpSettings;
  readonly accessLog: boolean;
  /** The built-in token service (`/auth/token`, `/auth/jwks.json`), when enabled. */
  readonly tokenService?: TokenService | undefined;
}

export function createDispatcher(deps: DispatchDependencies): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, log, settings } = deps;
  const fixedHeaders: Array<[string, string | string[]]> = [
    ['Docker-Distribution-API-Version', 'registry/2.0'],
    ...Object.entries(settings.headers),
  ];
  return (req, res) => {
    const id = randomUUID();
    for (const [name, value] of fixedHeaders) res.setHeader(name, value);
    res.setHeader('X-Request-Id', id);
    let ctx: RequestContext;
    try {
      const { path, query } = splitTarget(req.url ?? '/');
      ctx = new RequestContext(req, res, id, registry, log, settings, path, query);
    } catch (error) {
      sendError(new RequestContext(req, res, id, registry, log, settings, '/', new URLSearchParams()), error);
      return;
    }
    if (deps.accessLog) {
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        log.info(
          { reqId: id, method: req.method, path: ctx.path, route: ctx.routeId, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 },
          'request',
        );
      });
    }
    if (ctx.path === '/healthz') {
      checkHealth(ctx).catch((error: unknown) => sendError(ctx, error));
      return;
    }
    if (deps.tokenService !== undefined && ctx.path.startsWith('/auth/')) {
      serveTokenEndpoint(ctx, deps.tokenService).catch((error: unknown) => sendError(ctx, error));
      return;
    }
    if (isUsagePath(ctx.path)) {
      serveUsage(ctx, deps.access).catch((error: unknown) => sendError(ctx, error));
      return;
    }
    handle(ctx, deps.access).catch((error: unknown) => sendError(ctx, error));
  };

  async function handle(ctx: RequestContext, controller: AccessController): Promise<void> {
    const found: Match = match(ctx.req.method ?? 'GET', ctx.path);
    ctx.routeId = found.operation.id;
    Object.assign(ctx.params, found.params);
    if (registry.options.readOnly && WRITE_METHODS.has(ctx.req.method ?? '')) throw readOnly();
    const scopes: Scope[] = [];
    if (found.route.scope === 'repository' && found.operation.actions.length > 0) {
      scopes.push({ type: 'repository', name: ctx.name, actions: found.operation.actions });
    } else if (found.route.scope === 'catalog') {
      scopes.push({ type: 'registry', name: 'catalog', actions: ['*'] });
    }
    await authorizeRequest(ctx, controller, scopes);
    await found.operation.handler(ctx);
  }
}
