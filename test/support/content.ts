// Test content: blobs with their digests, image-spec descriptors and manifests built from them,
// and fresh repository names so that tests sharing one registry never see each other's data.
import { createHash, randomBytes } from 'node:crypto';

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export interface Content {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly size: number;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
  readonly platform?: { readonly architecture: string; readonly os: string };
}

/** A manifest body as exact bytes, with the media type it is pushed as. */
export interface ManifestBody extends Content {
  readonly mediaType: string;
}

export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export function content(data: string | Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Content {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return { bytes, digest: digestOf(bytes, algorithm), size: bytes.length };
}

export function randomContent(size: number): Content {
  return content(randomBytes(size));
}

/** The image-spec empty descriptor's content: the two bytes `{}`. */
export const EMPTY_CONFIG: Content = content('{}');

export function descriptorOf(blob: Content, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: blob.digest, size: blob.size, ...extra };
}

/** Serialises a manifest object; the bytes are what the registry must store and serve back. */
export function manifestBody(value: object, mediaType: string, indent?: number): ManifestBody {
  const bytes = Buffer.from(JSON.stringify(value, undefined, indent));
  return { bytes, mediaType, digest: digestOf(bytes), size: bytes.length };
}

export interface ImageParts {
  readonly config: Content;
  readonly layers: readonly Content[];
}

export function imageParts(label: string, layerCount = 2): ImageParts {
  const config = content(JSON.stringify({ architecture: 'amd64', os: 'linux', label, rootfs: { type: 'layers', diff_ids: [] } }));
  const layers = Array.from({ length: layerCount }, (_, i) => content(`${label} layer ${i} ${randomBytes(8).toString('hex')}`));
  return { config, layers };
}

export interface OciManifestOptions {
  readonly subject?: Content;
  readonly subjectMediaType?: string;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
  readonly configMediaType?: string;
}

export function ociManifest(parts: ImageParts, options: OciManifestOptions = {}): ManifestBody {
  return manifestBody(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      ...(options.artifactType === undefined ? {} : { artifactType: options.artifactType }),
      config: descriptorOf(parts.config, options.configMediaType ?? MediaTypes.ociConfig),
      layers: parts.layers.map((layer) => descriptorOf(layer, MediaTypes.ociLayer)),
      ...(options.subject === undefined ? {} : { subject: descriptorOf(options.subject, options.subjectMediaType ?? MediaTypes.ociManifest) }),
      ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
    },
    MediaTypes.ociManifest,
  );
}

export function dockerManifest(parts: ImageParts): ManifestBody {
  return manifestBody(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifest,
      config: descriptorOf(parts.config, MediaTypes.dockerConfig),
      layers: parts.layers.map((layer) => descriptorOf(layer, MediaTypes.dockerLayer)),
    },
    MediaTypes.dockerManifest,
    3,
  );
}

export function indexOf(children: readonly ManifestBody[], mediaType: string = MediaTypes.ociIndex): ManifestBody {
  const platforms = ['amd64', 'arm64', 's390x', 'ppc64le'];
  return manifestBody(
    {
      schemaVersion: 2,
      mediaType,
      manifests: children.map((child, i) => descriptorOf(child, child.mediaType, { platform: { architecture: platforms[i % 4] ?? 'amd64', os: 'linux' } })),
    },
    mediaType,
  );
}

/** An artifact manifest in the image-spec style: artifactType set, the empty config, blobs as layers. */
export function artifactManifest(artifactType: string, blobs: readonly Content[], options: Omit<OciManifestOptions, 'artifactType' | 'configMediaType'> = {}): ManifestBody {
  return manifestBody(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType,
      config: descriptorOf(EMPTY_CONFIG, MediaTypes.ociEmpty),
      layers: blobs.map((blob) => descriptorOf(blob, 'application/octet-stream')),
      ...(options.subject === undefined ? {} : { subject: descriptorOf(options.subject, options.subjectMediaType ?? MediaTypes.ociManifest) }),
      ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
    },
    MediaTypes.ociManifest,
  );
}

let counter = 0;

/** A repository name no other test uses (two components, so slashes in names are exercised). */
export function freshRepository(label = 'repo'): string {
  counter += 1;
  return `test-${process.pid}/${label}-${counter}`;
}

/** The bytes as a fetch body (fetch's types want a Uint8Array over a plain ArrayBuffer). */
export function bodyOf(bytes: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
