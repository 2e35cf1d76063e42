// GET /usage and GET /usage/<repository>: storage used, outside /v2/ (docs/lifecycle.md, "Usage").
// The whole-registry view needs the catalog scope and shows only the repositories the caller may
// list (totals only to callers who may list everything); one repository's view needs pull on it and
// also gives its namespace's usage (to callers who may list everything) and the quotas that apply.
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
    if (listable !== undefined) {
      ctx.sendJson(200, { repositories: (await usage.listRepositoryUsage()).filter((row) => listable(row.scope)) });
      return;
    }
    const repositories = await usage.listRepositoryUsage();
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
  ctx.sendJson(200, {
    repository: await usage.usage({ repository: name }),
    ...(listable === undefined ? { namespace: await usage.usage({ namespace: namespaceOf(name) }) } : {}),
    quotas: ctx.registry.policy.quotasFor(name),
  });
}
