// Upload endpoints: POST (end-4a/4b, mount end-11), PATCH (end-5), PUT (end-6), GET status (end-13), DELETE.
import { parseDigest } from '../../registry/digest.js';
import { blobUploadInvalid, digestInvalid } from '../../registry/errors.js';
import { parseRepositoryName } from '../../registry/names.js';
import { blobPath, uploadPath } from '../../registry/paths.js';
import type { RequestContext } from '../context.js';
import { parseContentRange } from '../range.js';

function hasBody(ctx: RequestContext): boolean {
  const length = ctx.req.headers['content-length'];
  return (length !== undefined && length !== '0') || ctx.req.headers['transfer-encoding'] !== undefined;
}

function contentLength(ctx: RequestContext): number | undefined {
  const length = ctx.req.headers['content-length'];
  return length === undefined ? undefined : Number(length);
}

function uploadHeaders(ctx: RequestContext, id: string, offset: number): Record<string, string | number> {
  return {
    Location: ctx.url(uploadPath(ctx.name, id)),
    Range: `0-${Math.max(offset - 1, 0)}`,
    'Docker-Upload-UUID': id,
  };
}

function sendCreated(ctx: RequestContext, digest: string): void {
  ctx.send(201, { Location: ctx.url(blobPath(ctx.name, parseDigest(digest))), 'Docker-Content-Digest': digest });
}

export async function startUpload(ctx: RequestContext): Promise<void> {
  const mount = ctx.query.get('mount');
  if (mount !== null) {
    const digest = parseDigest(mount);
    const fromValue = ctx.query.get('from');
    const from = fromValue === null || fromValue === '' ? undefined : parseRepositoryName(fromValue);
    // A mount needs pull on its source; without it the client gets a normal upload (202). A mount
    // without `from` (from anywhere) is off by configuration, and off with access control, where it
    // would disclose other repositories' blobs.
    const allowed = from === undefined ? ctx.registry.options.automaticMount && ctx.access?.may === undefined : ctx.may('pull', from);
    if (allowed && (await ctx.registry.uploads.mount(ctx.name, digest, from, ctx))) {
      sendCreated(ctx, digest);
      return;
    }
  }
  const single = ctx.query.get('digest');
  if (single !== null) {
    const digest = parseDigest(single);
    await ctx.registry.uploads.putMonolithic(ctx.name, digest, ctx.req, contentLength(ctx), ctx);
    sendCreated(ctx, digest);
    return;
  }
  const id = await ctx.registry.uploads.start(ctx.name);
  ctx.send(202, uploadHeaders(ctx, id, 0));
}

export async function patchUpload(ctx: RequestContext): Promise<void> {
  const range = parseContentRange(ctx.header('content-range'));
  if (range === 'invalid') throw blobUploadInvalid('Content-Range must be <start>-<end>');
  const offset = await ctx.registry.uploads.append(ctx.name, ctx.uploadId, ctx.req, range, contentLength(ctx));
  ctx.send(202, uploadHeaders(ctx, ctx.uploadId, offset));
}

export async function completeUpload(ctx: RequestContext): Promise<void> {
  const value = ctx.query.get('digest');
  if (value === null || value === '') throw digestInvalid('the digest query parameter is required');
  const digest = parseDigest(value);
  await ctx.registry.uploads.complete(ctx.name, ctx.uploadId, digest, hasBody(ctx) ? ctx.req : undefined, contentLength(ctx), ctx);
  sendCreated(ctx, digest);
}

export async function getUploadStatus(ctx: RequestContext): Promise<void> {
  const offset = await ctx.registry.uploads.offset(ctx.name, ctx.uploadId);
  ctx.send(204, uploadHeaders(ctx, ctx.uploadId, offset));
}

export async function cancelUpload(ctx: RequestContext): Promise<void> {
  await ctx.registry.uploads.cancel(ctx.name, ctx.uploadId);
  ctx.send(204, {});
}
