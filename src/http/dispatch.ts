// The request listener: match the route (early 404/405), build the context, authorize the scopes
// the route needs, run the handler; anything thrown goes to sendError.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { AccessController, Scope } from '../auth/access.js';
import type { TokenService } from '../auth/token-service.js';
import { denied, readOnly, unsupported } from '../registry/errors.js';
import type { Registry } from '../registry/registry.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Tracing } from '../telemetry/tracing.js';
import { authorizeRequest } from './authorize.js';
import { RequestContext, type HttpSettings } from './context.js';
import { serveTokenEndpoint } from './handlers/token.js';
import { checkLiveness, checkReadiness } from './health.js';
import type { Readiness } from './readiness.js';
import { serveMetrics } from './metrics-endpoint.js';
import { isUsagePath, serveUsage } from './usage.js';
import { isExtensionPath, serveExtension } from './extensions.js';
import type { UiFiles } from './ui.js';
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
  /** Metrics, when on (also reachable from handlers as settings.metrics). */
  readonly metrics?: Metrics | undefined;
  /** Serve the metrics on this address at this path (when there is no debug address); `auth`: behind access control. */
  readonly metricsRoute?: { readonly path: string; readonly auth: boolean } | undefined;
  /** What /readyz reports. */
  readonly readiness: Readiness;
  /** Tracing, when OTEL_* turned it on: a span per request. */
  readonly tracing?: Tracing | undefined;
  /** The web UI's files, served at their path, when ui.enabled. */
  readonly ui?: UiFiles | undefined;
}

export function createDispatcher(deps: DispatchDependencies): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, log, metrics, metricsRoute, tracing } = deps;
  const settings: HttpSettings = { ...deps.settings, metrics };
  const accessLog = deps.accessLog;
  const fixedHeaders: Array<[string, string | string[]]> = [
    ['Docker-Distribution-API-Version', 'registry/2.0'],
    ...Object.entries(settings.headers),
  ];
  return (req, res) => {
    const id = randomUUID();
    for (const [name, value] of fixedHeaders) res.setHeader(name, value);
    res.setHeader('X-Request-Id', id);
    let ctx: RequestContext;
    let refused: unknown;
    try {
      const { path, query } = splitTarget(req.url ?? '/');
      ctx = new RequestContext(req, res, id, registry, log, settings, path, query);
    } catch (error) {
      // A target refused before routing (NUL, backslash, malformed encoding) is answered and logged
      // like any other request, under its raw path.
      refused = error;
      ctx = new RequestContext(req, res, id, registry, log, settings, (req.url ?? '/').split('?')[0] ?? '/', new URLSearchParams());
    }
    // Per request, with metrics on: a clock read, a counter, one 'close' listener (which the access
    // log shares); with tracing on, a span that the rest runs in; with all off, nothing.
    const span = tracing?.startRequest(req.method, ctx.path, req.headers, id);
    if (metrics !== undefined || accessLog || span !== undefined) {
      const started = performance.now();
      metrics?.requestStarted();
      res.on('close', () => {
        const ms = performance.now() - started;
        metrics?.requestFinished(ctx.routeId, req.method, res.statusCode, ms / 1000);
        span?.end(ctx.routeId, res.statusCode, !res.writableFinished);
        if (accessLog) {
          log.info(
            { reqId: id, method: req.method, path: ctx.path, route: ctx.routeId, status: res.statusCode, ms, ...(res.writableFinished ? {} : { aborted: true }), ...(span === undefined ? {} : { trace_id: span.traceId }) },
            'request',
          );
        }
      });
    }
    if (refused !== undefined) sendError(ctx, refused);
    else if (span === undefined) serve(ctx);
    else span.run(() => serve(ctx));
  };

  function serve(ctx: RequestContext): void {
    if (ctx.path === '/healthz') {
      ctx.routeId = 'healthz';
      try {
        checkLiveness(ctx);
      } catch (error) {
        sendError(ctx, error);
      }
      return;
    }
    if (ctx.path === '/readyz') {
      ctx.routeId = 'readyz';
      checkReadiness(ctx, deps.readiness).catch((error: unknown) => sendError(ctx, error));
      return;
    }
    if (metricsRoute !== undefined && metrics !== undefined && ctx.path === metricsRoute.path) {
      ctx.routeId = 'metrics';
      serveMetrics(ctx, metrics, metricsRoute.auth ? deps.access : undefined).catch((error: unknown) => sendError(ctx, error));
      return;
    }
    if (deps.tokenService !== undefined && ctx.path.startsWith('/auth/')) {
      ctx.routeId = 'token';
      serveTokenEndpoint(ctx, deps.tokenService).catch((error: unknown) => sendError(ctx, error));
      return;
    }
    if (isUsagePath(ctx.path)) {
      ctx.routeId = 'usage';
      serveUsage(ctx, deps.access).catch((error: unknown) => sendError(ctx, error));
      return;
    }
    if (deps.ui?.matches(ctx.path) === true) {
      ctx.routeId = 'ui';
      try {
        deps.ui.serve(ctx);
      } catch (error) {
        sendError(ctx, error);
      }
      return;
    }
    if (isExtensionPath(ctx.path)) {
      ctx.routeId = 'extension';
      serveExtension(ctx, deps.access).catch((error: unknown) => sendError(ctx, error));
      return;
    }
    handle(ctx, deps.access).catch((error: unknown) => sendError(ctx, error));
  }

  async function handle(ctx: RequestContext, controller: AccessController): Promise<void> {
    let found: Match = match(ctx.req.method ?? 'GET', ctx.path);
    // A transparent mirror names the registry it stands in for as ?ns= (containerd's hosts.toml), or
    // sends the bare name (dockerd, podman): the repository is the one below the upstream's prefix.
    const name = found.params.name;
    const routed = name === undefined ? undefined : registry.proxy?.upstreams.route(name, ctx.query.get('ns'));
    if (name !== undefined && routed !== undefined) found = match(ctx.req.method ?? 'GET', `/v2/${routed}${ctx.path.slice(`/v2/${name}`.length)}`);
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
    if (found.operation.actions.includes('push') && registry.proxy?.covers(ctx.name) === true) throw unsupported(`${ctx.name} is a pull-through cache of an upstream registry: push there`);
    if (found.operation.actions.includes('pull')) {
      const proxied = registry.proxy?.upstreams.resolve(ctx.name);
      // Refused before the upstream or the cache is asked: the lists say what may come through.
      if (proxied !== undefined && !proxied.upstream.permits(proxied.remoteName)) throw denied(`${proxied.remoteName} may not be pulled through the cache of ${proxied.upstream.config.url} (its allow/deny lists)`);
    }
    await found.operation.handler(ctx);
  }
}
