// Pushes over the HTTP API with the least ceremony: a blob in one POST, a manifest by PUT, a whole
// image (config, layers, manifest). Each asserts the success status so a test fails where it broke.
import assert from 'node:assert/strict';
import { bodyOf, imageParts, ociManifest, type Content, type ImageParts, type ManifestBody, type OciManifestOptions } from './content.js';

/** POST /v2/<name>/blobs/uploads/?digest=<digest> with the whole blob (monolithic upload). */
export async function pushBlob(url: string, repository: string, blob: Content): Promise<void> {
  const response = await fetch(`${url}/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
    body: bodyOf(blob.bytes),
  });
  await response.arrayBuffer();
  assert.equal(response.status, 201, `pushing blob ${blob.digest} to ${repository}`);
}

export async function pushBlobs(url: string, repository: string, blobs: readonly Content[]): Promise<void> {
  for (const blob of blobs) await pushBlob(url, repository, blob);
}

/** PUT /v2/<name>/manifests/<reference> with the manifest's exact bytes and media type; returns the response. */
export async function putManifest(url: string, repository: string, reference: string, manifest: ManifestBody, contentType = manifest.mediaType): Promise<Response> {
  return fetch(`${url}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': contentType },
    body: bodyOf(manifest.bytes),
  });
}

export async function pushManifest(url: string, repository: string, reference: string, manifest: ManifestBody): Promise<Response> {
  const response = await putManifest(url, repository, reference, manifest);
  await response.arrayBuffer();
  assert.equal(response.status, 201, `pushing manifest ${manifest.digest} to ${repository}:${reference}`);
  return response;
}

export interface PushedImage extends ImageParts {
  readonly manifest: ManifestBody;
}

/** Pushes config, layers and an OCI manifest; tagged when `tag` is given, else by digest. */
export async function pushImage(url: string, repository: string, tag?: string, options: OciManifestOptions & { label?: string } = {}): Promise<PushedImage> {
  const parts = imageParts(options.label ?? `${repository}:${tag ?? 'untagged'}`);
  await pushBlobs(url, repository, [parts.config, ...parts.layers]);
  const manifest = ociManifest(parts, options);
  await pushManifest(url, repository, tag ?? manifest.digest, manifest);
  return { ...parts, manifest };
}

/** Starts an upload session (POST with no digest); returns its Location as an absolute URL. */
export async function startUpload(url: string, repository: string): Promise<string> {
  const response = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await response.arrayBuffer();
  assert.equal(response.status, 202, `starting an upload in ${repository}`);
  const location = response.headers.get('location');
  assert.ok(location !== null, 'POST upload has a Location');
  return new URL(location, url).toString();
}

/** The Location with `digest` added to whatever query it already has. */
export function withDigest(location: string, digest: string): string {
  const target = new URL(location);
  target.searchParams.set('digest', digest);
  return target.toString();
}

