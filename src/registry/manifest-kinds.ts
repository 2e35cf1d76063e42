// Manifest kinds as a table: media type → how to validate it and what it references.
// Adding a media type is one entry. Docker schema1 is refused (distribution v3 removed it).
import { isNonDistributable, MediaType } from './media-types.js';
import { checkAnnotations, checkMediaType, isObject, parseDescriptor, type Descriptor } from './descriptor.js';
import { manifestInvalid } from './errors.js';

export interface ParsedManifest {
  readonly mediaType: string;
  /** Blobs that must be in the repository: config and distributable layers. */
  readonly blobs: readonly Descriptor[];
  /** Manifests that must be in the repository: index entries. */
  readonly manifests: readonly Descriptor[];
  readonly subject: Descriptor | undefined;
  /** What a referrers response shows for this manifest. */
  readonly artifactType: string | undefined;
  readonly annotations: Record<string, string> | undefined;
}

interface ManifestKind {
  /** Whether this kind is a list of manifests (index) rather than an image. */
  readonly isIndex: boolean;
  parse(json: Record<string, unknown>, mediaType: string): ParsedManifest;
}

function parseImage(json: Record<string, unknown>, mediaType: string, oci: boolean): ParsedManifest {
  const config = parseDescriptor(json.config, 'config');
  if (!Array.isArray(json.layers)) throw manifestInvalid('layers must be an array');
  const layers = json.layers.map((layer, i) => parseDescriptor(layer, `layers[${i}]`));
  const subject = oci && json.subject !== undefined ? parseDescriptor(json.subject, 'subject') : undefined;
  if (json.artifactType !== undefined) {
    if (!oci) throw manifestInvalid('artifactType is an OCI field');
    checkMediaType(json.artifactType, 'artifactType');
  }
  const artifactType = typeof json.artifactType === 'string' ? json.artifactType : config.mediaType;
  return {
    mediaType,
    blobs: [config, ...layers.filter((layer) => !(isNonDistributable(layer.mediaType) || (layer.urls?.length ?? 0) > 0))],
    manifests: [],
    subject,
    artifactType,
    annotations: checkAnnotations(json.annotations, 'manifest'),
  };
}

function parseIndex(json: Record<string, unknown>, mediaType: string, oci: boolean): ParsedManifest {
  if (!Array.isArray(json.manifests)) throw manifestInvalid('manifests must be an array');
  const manifests = json.manifests.map((entry, i) => parseDescriptor(entry, `manifests[${i}]`));
  const subject = oci && json.subject !== undefined ? parseDescriptor(json.subject, 'subject') : undefined;
  if (json.artifactType !== undefined) checkMediaType(json.artifactType, 'artifactType');
  return {
    mediaType,
    blobs: [],
    manifests,
    subject,
    artifactType: typeof json.artifactType === 'string' ? json.artifactType : undefined,
    annotations: checkAnnotations(json.annotations, 'index'),
  };
}

export const MANIFEST_KINDS: ReadonlyMap<string, ManifestKind> = new Map<string, ManifestKind>([
  [MediaType.ociManifest, { isIndex: false, parse: (json, type) => parseImage(json, type, true) }],
  [MediaType.dockerManifest, { isIndex: false, parse: (json, type) => parseImage(json, type, false) }],
  [MediaType.ociIndex, { isIndex: true, parse: (json, type) => parseIndex(json, type, true) }],
  [MediaType.dockerManifestList, { isIndex: true, parse: (json, type) => parseIndex(json, type, false) }],
]);

const GENERIC_CONTENT_TYPES = new Set(['application/json', 'application/octet-stream', 'text/plain']);

/**
 * Parses a manifest body, deciding its media type from the body's `mediaType` and the request's
 * Content-Type, which must agree when both are specific.
 */
export function parseManifest(payload: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    throw manifestInvalid('body is not valid JSON');
  }
  if (!isObject(json)) throw manifestInvalid('body must be a JSON object');
  if (json.schemaVersion === 1 || contentType === MediaType.dockerSchema1 || contentType === MediaType.dockerSchema1Signed) {
    throw manifestInvalid('Docker schema1 manifests are not supported; push schema2 or OCI');
  }
  if (json.schemaVersion !== 2) throw manifestInvalid('schemaVersion must be 2');
  const declared = json.mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw manifestInvalid('mediaType must be a string');
  const header = contentType !== undefined && !GENERIC_CONTENT_TYPES.has(contentType) ? contentType : undefined;
  if (declared !== undefined && header !== undefined && declared !== header) {
    throw manifestInvalid(`mediaType ${declared} does not match Content-Type ${header}`);
  }
  const mediaType = declared ?? header ?? inferMediaType(json);
  const kind = MANIFEST_KINDS.get(mediaType);
  if (kind === undefined) throw manifestInvalid(`unsupported manifest media type ${mediaType}`);
  if (kind.isIndex ? json.manifests === undefined : json.config === undefined) {
    throw manifestInvalid(`body does not have the fields of ${mediaType}`);
  }
  return kind.parse(json, mediaType);
}

function inferMediaType(json: Record<string, unknown>): string {
  if (Array.isArray(json.manifests)) return MediaType.ociIndex;
  if (isObject(json.config)) return MediaType.ociManifest;
  throw manifestInvalid('cannot tell the manifest media type: no mediaType and no Content-Type');
}

export function isIndexMediaType(mediaType: string): boolean {
  return MANIFEST_KINDS.get(mediaType)?.isIndex ?? false;
}
