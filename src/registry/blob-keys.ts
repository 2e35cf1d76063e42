// Where bytes live in the storage driver, written down where it is computed:
//   blobs/<algorithm>/<first two hex>/<hex>   verified, content-addressed blob bytes
//   uploads/<upload id>                       bytes of an upload in progress (private)
// One file per object and no directory per blob or upload: a push creates no directories once the
// 256 fan-out directories exist, and removing an upload is one unlink.
import { digestAlgorithm, digestHex, type Digest } from './digest.js';

export function blobKey(digest: Digest): string {
  const hex = digestHex(digest);
  return `blobs/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}`;
}

export const UPLOADS_PREFIX = 'uploads/';

export function uploadKey(id: string): string {
  return `${UPLOADS_PREFIX}${id}`;
}
