// The registry's API extensions under the spec's reserved `/v2/_<name>/` paths, following the OCI
// extensions convention: `GET /v2/_oci/ext/discover` lists them; Berth's own live under
// `/v2/_berth/` (docs/api.md). Same access control as /v2: browsing repositories needs what the
// catalog needs (and shows only what the caller may pull), a repository's pages need pull on it.
import type { AccessController, Scope } from '../auth/access.js';
import { parseTagSort } from '../registry/browse-service.js';
import { parseDigest } from '../registry/digest.js';
import { denied, methodNotAllowed, nameUnknown, notFound } from '../registry/errors.js';
import { parsePageRequest } from '../registry/listing-service.js';
import { parseRepositoryName, type RepositoryName } from '../registry/names.js';
import { authorizeRequest } from './authorize.js';
import type { RequestContext } from './context.js';

export const DISCOVER_PATH = '/v2/_oci/ext/discover';
export const BROWSE_PREFIX = '/v2/_berth/browse/';

export function isExtensionPath(path: string): boolean {
  return path === DISCOVER_PATH || path.startsWith('/v2/_berth/') || path.startsWith('/v2/_oci/');
}

/** The discovery document (extensions/_oci.md of the distribution spec). */
const DISCOVERY = {
  extensions: [
    {
      name: '_oci',
      description: 'Discover the extensions this registry serves.',
      url: 'https://github.com/opencontainers/distribution-spec/blob/main/extensions/_oci.md',
      endpoints: ['_oci/ext/discover'],
    },
    {
      name: '_berth',
      description: 'Browse repositories, tags, manifests and what deleting them removes (the web UI\'s API).',
      url: 'docs/api.md',
      endpoints: ['_berth/browse/repositories', '_berth/browse/namespaces', '_berth/browse/repositories/{name}', '_berth/browse/repositories/{name}/tags', '_berth/browse/repositories/{name}/manifests/{digest}', '_berth/browse/repositories/{name}/tags/{tag}/deletion', '_berth/browse/gc-runs'],
    },
  ],
};

const REPOSITORY_PAGE = /^(?<name>.+?)\/(?:(?<tags>tags)|manifests\/(?<digest>[^/]+)|tags\/(?<tag>[^/]+)\/deletion)$/;

export async function serveExtension(ctx: RequestContext, access: AccessController): Promise<void> {
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
  if (ctx.path === DISCOVER_PATH) {
    ctx.routeId = 'ext-discover';
    await authorizeRequest(ctx, access, []);
    ctx.sendJson(200, DISCOVERY);
    return;
  }
  const browse = ctx.registry.browse;
  if (browse === undefined || !ctx.path.startsWith(BROWSE_PREFIX)) throw notFound();
  const rest = ctx.path.slice(BROWSE_PREFIX.length);
  if (rest === 'repositories') {
    ctx.routeId = 'berth-repositories';
    const decision = await authorizeRequest(ctx, access, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    const request = parsePageRequest(ctx.query.get('n'), ctx.query.get('last'));
    const page = await browse.repositories(ctx.query.get('q') ?? '', request.n, request.last, decision.listable);
    const query = new URLSearchParams({ ...(ctx.query.get('q') ? { q: ctx.query.get('q') ?? '' } : {}), ...(request.n === undefined ? {} : { n: String(request.n) }) });
    ctx.sendJson(200, { repositories: page.items, next: page.next ?? null }, link(ctx, 'repositories', query, page.next));
    return;
  }
  if (rest === 'namespaces') {
    ctx.routeId = 'berth-namespaces';
    const decision = await authorizeRequest(ctx, access, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    const request = parsePageRequest(ctx.query.get('n'), ctx.query.get('last'));
    const prefix = ctx.query.get('prefix') ?? '';
    const page = await (ctx.registry.namespaces ?? throwNotFound()).children(prefix, request.n, request.last, decision.listable);
    const query = new URLSearchParams({ ...(prefix === '' ? {} : { prefix }), ...(request.n === undefined ? {} : { n: String(request.n) }) });
    ctx.sendJson(200, { prefix, children: page.items, next: page.next ?? null }, link(ctx, 'namespaces', query, page.next));
    return;
  }
  if (rest === 'gc-runs') {
    ctx.routeId = 'berth-gc-runs';
    // Registry-wide: for callers who see the whole catalog (an admin, or open access).
    const decision = await authorizeRequest(ctx, access, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    if (decision.listable !== undefined) throw denied('the garbage collector\'s runs are shown to admins');
    const request = parsePageRequest(ctx.query.get('n'), null);
    ctx.sendJson(200, await browse.gcRuns(request.n));
    return;
  }
  if (!rest.startsWith('repositories/')) throw notFound();
  const tail = rest.slice('repositories/'.length);
  const found = REPOSITORY_PAGE.exec(tail);
  const groups = found?.groups;
  const name: RepositoryName = parseRepositoryName(groups?.name ?? tail);
  await authorizeRequest(ctx, access, [pull(name)]);
  const actions = { pull: true, push: ctx.may('push', name), delete: ctx.may('delete', name) && ctx.registry.options.deleteEnabled && !ctx.registry.options.readOnly };
  if (groups === undefined) {
    ctx.routeId = 'berth-repository';
    ctx.sendJson(200, { ...(await browse.repository(name)), actions });
    return;
  }
  if (groups.tags !== undefined) {
    ctx.routeId = 'berth-tags';
    const request = parsePageRequest(ctx.query.get('n'), ctx.query.get('last'));
    const sort = parseTagSort(ctx.query.get('sort'));
    const page = await browse.tags(name, { sort, n: request.n, last: request.last });
    const query = new URLSearchParams({ sort, ...(request.n === undefined ? {} : { n: String(request.n) }) });
    ctx.sendJson(200, { name, tags: page.items, next: page.next ?? null, actions, gc: browse.gc }, link(ctx, `repositories/${name}/tags`, query, page.next));
    return;
  }
  if (groups.digest !== undefined) {
    ctx.routeId = 'berth-manifest';
    ctx.sendJson(200, { ...(await browse.manifest(name, parseDigest(groups.digest))), actions });
    return;
  }
  if (groups.tag !== undefined) {
    ctx.routeId = 'berth-tag-deletion';
    ctx.sendJson(200, { ...(await browse.tagDeletion(name, groups.tag)), actions });
    return;
  }
  throw nameUnknown(name);
}

function throwNotFound(): never {
  throw notFound();
}

function pull(name: string): Scope {
  return { type: 'repository', name, actions: ['pull'] };
}

function link(ctx: RequestContext, path: string, query: URLSearchParams, next: string | undefined): Record<string, string> {
  if (next === undefined) return {};
  query.set('last', next);
  return { Link: `<${ctx.url(`${BROWSE_PREFIX}${path}?${query.toString()}`)}>; rel="next"` };
}
