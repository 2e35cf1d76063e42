// The built-in token service's endpoints, outside /v2/: `GET|POST /auth/token` and
// `GET /auth/jwks.json`. The form body of a POST is read whole, capped at 64 KiB; it carries a
// password or a refresh token, so neither it nor the query is ever logged.
import type { TokenService } from '../../auth/token-service.js';
import { methodNotAllowed, notFound, requestInvalid } from '../../registry/errors.js';
import type { RequestContext } from '../context.js';

const FORM_LIMIT = 64 * 1024;

export async function serveTokenEndpoint(ctx: RequestContext, service: TokenService): Promise<void> {
  const method = ctx.req.method ?? 'GET';
  if (ctx.path === '/auth/jwks.json') {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
    ctx.sendJson(200, service.jwks(), { 'Cache-Control': 'max-age=300' });
    return;
  }
  if (ctx.path !== '/auth/token') throw notFound();
  if (method !== 'GET' && method !== 'POST') throw methodNotAllowed(['GET', 'POST']);
  ctx.routeId = 'token';
  const params = method === 'POST' ? await readForm(ctx) : ctx.query;
  const response = await service.issue({ method, authorization: ctx.header('authorization'), remoteAddress: ctx.req.socket.remoteAddress, params });
  if (response.status === 401) ctx.settings.metrics?.authRefused('invalid_credentials');
  else if (response.status === 429) ctx.settings.metrics?.authRefused('rate_limited');
  ctx.sendJson(response.status, response.body, { ...response.headers });
}

async function readForm(ctx: RequestContext): Promise<URLSearchParams> {
  const type = ctx.header('content-type') ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) throw requestInvalid('the token endpoint takes an application/x-www-form-urlencoded body');
  if (Number(ctx.req.headers['content-length'] ?? 0) > FORM_LIMIT) throw requestInvalid('form body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORM_LIMIT) throw requestInvalid('form body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
