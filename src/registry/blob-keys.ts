// Where bytes live in the storage driver, written down where it is computed:
//   blobs/<algorithm>/<first two hex>/<hex>/data   verified, content-addressed blob bytes
//   uploads/<upload id>/data                       bytes of an upload in progress (private)
import { digestAlgorithm, digestHex, type Digest } from './digest.js';

export function blobKey(digest: Digest): string {
  const hex = digestHex(digest);
  return `blobs/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}/data`;
}

export function uploadKey(id: string): string {
  return `uploads/${id}/data`;
}

export function uploadPrefix(id: string): string {
  return `uploads/${id}/`;
}
