// Reading a small request body whole (manifests only), refusing it before reading past the cap.
import type { IncomingMessage } from 'node:http';
import { manifestTooLarge } from '../registry/errors.js';

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw manifestTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  // destroyOnReturn: false, so that leaving the loop with a 413 leaves the rest of the body (and the
  // socket) to sendError, which discards it after the response instead of resetting the connection.
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length;
    if (size > limit) throw manifestTooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}
