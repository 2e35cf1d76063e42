// Content descriptors (image-spec descriptor.md): the shape every manifest reference has.
import { parseDigest, type Digest } from './digest.js';
import { manifestInvalid } from './errors.js';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
  readonly urls?: readonly string[];
  readonly platform?: Platform;
}

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function checkMediaType(value: unknown, where: string): string {
  if (typeof value !== 'string' || !MEDIA_TYPE.test(value)) throw manifestInvalid(`${where}: mediaType must be a media type string`);
  return value;
}

export function checkAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || Object.values(value).some((entry) => typeof entry !== 'string')) {
    throw manifestInvalid(`${where}: annotations must map strings to strings`);
  }
  return value as Record<string, string>;
}

/** Validates a descriptor object; `where` names it in the error ("layers[2]"). */
export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw manifestInvalid(`${where} must be a descriptor object`);
  const mediaType = checkMediaType(value.mediaType, where);
  if (typeof value.digest !== 'string') throw manifestInvalid(`${where}: digest must be a string`);
  let digest: Digest;
  try {
    digest = parseDigest(value.digest);
  } catch {
    throw manifestInvalid(`${where}: malformed digest ${value.digest}`);
  }
  const size = value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw manifestInvalid(`${where}: size must be a non-negative integer`);
  if (value.artifactType !== undefined) checkMediaType(value.artifactType, `${where}.artifactType`);
  const annotations = checkAnnotations(value.annotations, where);
  if (value.urls !== undefined && (!Array.isArray(value.urls) || value.urls.some((url) => typeof url !== 'string'))) {
    throw manifestInvalid(`${where}: urls must be an array of strings`);
  }
  let platform: Platform | undefined;
  if (value.platform !== undefined) {
    const p = value.platform;
    if (!isObject(p) || typeof p.architecture !== 'string' || typeof p.os !== 'string') {
      throw manifestInvalid(`${where}: platform needs architecture and os strings`);
    }
    platform = { architecture: p.architecture, os: p.os, ...(typeof p.variant === 'string' ? { variant: p.variant } : {}) };
  }
  return {
    mediaType,
    digest,
    size,
    ...(typeof value.artifactType === 'string' ? { artifactType: value.artifactType } : {}),
    ...(annotations === undefined ? {} : { annotations }),
    ...(Array.isArray(value.urls) ? { urls: value.urls as string[] } : {}),
    ...(platform === undefined ? {} : { platform }),
  };
}
