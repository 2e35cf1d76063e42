// Manifest endpoints: GET/HEAD (end-3), PUT (end-7), DELETE (end-9).
import { unsupported } from '../../registry/errors.js';
import { parseLookupReference, parseReference } from '../../registry/manifest-service.js';
import { bareMediaType } from '../../registry/media-types.js';
import { manifestPath } from '../../registry/paths.js';
import { readBody } from '../body.js';
import type { RequestContext } from '../context.js';

export async function getManifest(ctx: RequestContext): Promise<void> {
  const reference = parseLookupReference(ctx.reference);
  const manifest = await ctx.registry.manifests.get(ctx.name, reference);
  const etag = `"${manifest.digest}"`;
  const headers = {
    'Content-Type': manifest.mediaType,
    'Content-Length': manifest.payload.length,
    'Docker-Content-Digest': manifest.digest,
    ETag: etag,
  };
  if (ctx.header('if-none-match') === etag) {
    ctx.send(304, headers);
    return;
  }
  ctx.send(200, headers, manifest.payload);
  if (ctx.isHead) return;
  ctx.settings.metrics?.bytesPulled('manifest', manifest.payload.length);
  ctx.registry.proxy?.sent(ctx.name, 'manifest', manifest.payload.length);
  ctx.registry.manifests.pulled(ctx.name, reference, manifest, ctx);
}

export async function putManifest(ctx: RequestContext): Promise<void> {
  const reference = parseReference(ctx.reference);
  const payload = await readBody(ctx.req, ctx.registry.options.manifestMaxBytes);
  const outcome = await ctx.registry.manifests.put(ctx.name, reference, bareMediaType(ctx.header('content-type')), payload, ctx);
  const headers: Record<string, string> = {
    Location: ctx.url(manifestPath(ctx.name, outcome.digest)),
    'Docker-Content-Digest': outcome.digest,
  };
  if (outcome.subject !== undefined) headers['OCI-Subject'] = outcome.subject;
  ctx.send(201, headers);
}

export async function deleteManifest(ctx: RequestContext): Promise<void> {
  if (!ctx.registry.options.deleteEnabled) throw unsupported('deletes are disabled (storage.delete.enabled)');
  await ctx.registry.manifests.delete(ctx.name, parseLookupReference(ctx.reference), ctx);
  ctx.send(202, {});
}
