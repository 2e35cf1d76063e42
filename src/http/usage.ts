// GET /usage and GET /usage/<repository>: storage used, outside /v2/ (docs/lifecycle.md, "Usage").
// A caller sees the usage of what it may pull, as the catalog shows it: GET /usage needs the
// catalog scope (any user, anonymous callers when an anonymous policy grants something) and lists
// the repositories the caller may pull, and the namespaces all of whose repositories it may pull;
// the registry's totals and the unreferenced bytes only to callers who see the whole catalog.
// GET /usage/<repository> needs pull on it and gives the repository, its namespace (on the same
// condition) and the quotas that apply.
import type { AccessController, Scope } from '../auth/access.js';
import { methodNotAllowed, nameUnknown } from '../registry/errors.js';
import { namespaceOf } from '../registry/lifecycle-policy.js';
import { parseRepositoryName } from '../registry/names.js';
import { authorizeRequest } from './authorize.js';
import type { RequestContext } from './context.js';

export function isUsagePath(path: string): boolean {
  return path === '/usage' || path.startsWith('/usage/');
}

export async function serveUsage(ctx: RequestContext, access: AccessController): Promise<void> {
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
  const usage = ctx.registry.usage;
  if (usage === undefined) throw nameUnknown('usage');
  // The path is matched raw: a repository name has no characters that need percent-encoding.
  const name = ctx.path === '/usage' ? undefined : parseRepositoryName(ctx.path.slice('/usage/'.length));
  const scope: Scope = name === undefined ? { type: 'registry', name: 'catalog', actions: ['*'] } : { type: 'repository', name, actions: ['pull'] };
  const decision = await authorizeRequest(ctx, access, [scope]);
  // A caller who may list only some repositories sees only those, and no totals that include others.
  const listable = decision.listable;
  if (name === undefined) {
    const repositories = await usage.listRepositoryUsage();
    if (listable !== undefined) {
      const visible = visibleNamespaces(repositories, listable);
      ctx.sendJson(200, {
        namespaces: await Promise.all([...visible].map((namespace) => usage.usage({ namespace }))),
        repositories: repositories.filter((row) => listable(row.scope)),
      });
      return;
    }
    const namespaces = [...new Set(repositories.map((row) => namespaceOf(row.scope)))];
    ctx.sendJson(200, {
      registry: await usage.usage({ registry: true }),
      unreferenced: await usage.unreferencedBlobBytes(),
      namespaces: await Promise.all(namespaces.map((namespace) => usage.usage({ namespace }))),
      repositories,
    });
    return;
  }
  if (!(await ctx.registry.metadata.hasRepository(name))) throw nameUnknown(name);
  const namespace = namespaceOf(name);
  const showNamespace = listable === undefined || visibleNamespaces(await usage.listRepositoryUsage(), listable, namespace).has(namespace);
  ctx.sendJson(200, {
    repository: await usage.usage({ repository: name }),
    ...(showNamespace ? { namespace: await usage.usage({ namespace }) } : {}),
    quotas: ctx.registry.policy.quotasFor(name),
  });
}

/**
 * The namespaces (of `only`, or all) every repository of which the caller may pull: their totals
 * tell it nothing it could not add up from what it may pull itself.
 */
function visibleNamespaces(repositories: readonly { scope: string }[], listable: (repository: string) => boolean, only?: string): Set<string> {
  const visible = new Set<string>();
  const hidden = new Set<string>();
  for (const { scope } of repositories) {
    const namespace = namespaceOf(scope);
    if (only !== undefined && namespace !== only) continue;
    if (listable(scope)) visible.add(namespace);
    else hidden.add(namespace);
  }
  for (const namespace of hidden) visible.delete(namespace);
  return visible;
}
