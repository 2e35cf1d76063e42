// Listing endpoints: tags (end-8a/8b), catalog, referrers (end-12a/12b), with RFC 5988 Link paging.
import { parseDigest } from '../../registry/digest.js';
import { parsePageRequest, type PageResult } from '../../registry/listing-service.js';
import { MediaType } from '../../registry/media-types.js';
import { catalogPath, referrersPath, tagsPath } from '../../registry/paths.js';
import type { RequestContext } from '../context.js';

function linkHeader(ctx: RequestContext, path: string, n: number, page: PageResult<unknown>, extra: Record<string, string> = {}): Record<string, string> {
  if (page.next === undefined) return {};
  const query = new URLSearchParams({ ...extra, n: String(n), last: page.next });
  return { Link: `<${ctx.linkUrl(`${path}?${query.toString()}`)}>; rel="next"` };
}

export async function listTags(ctx: RequestContext): Promise<void> {
  const request = parsePageRequest(ctx.query.get('n'), ctx.query.get('last'));
  const page = await ctx.registry.listings.tags(ctx.name, request);
  ctx.sendJson(200, { name: ctx.name, tags: page.items }, linkHeader(ctx, tagsPath(ctx.name), page.items.length, page));
}

export async function listCatalog(ctx: RequestContext): Promise<void> {
  const request = parsePageRequest(ctx.query.get('n'), ctx.query.get('last'));
  // Only what the caller may pull (an admin, or open access, sees everything).
  const page = await ctx.registry.listings.catalog(request, ctx.access?.listable);
  ctx.sendJson(200, { repositories: page.items }, linkHeader(ctx, catalogPath(), page.items.length, page));
}

export async function listReferrers(ctx: RequestContext): Promise<void> {
  const subject = parseDigest(ctx.params.reference ?? '');
  const artifactType = ctx.query.get('artifactType') ?? undefined;
  const request = parsePageRequest(ctx.query.get('n'), ctx.query.get('last'));
  const page = await ctx.registry.listings.referrers(ctx.name, subject, artifactType, request);
  const filters: Record<string, string> = artifactType === undefined ? {} : { artifactType };
  const headers: Record<string, string> = {
    'Content-Type': MediaType.ociIndex,
    ...linkHeader(ctx, referrersPath(ctx.name, subject), page.items.length, page, filters),
  };
  if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
  ctx.send(200, headers, JSON.stringify(page.index));
}
