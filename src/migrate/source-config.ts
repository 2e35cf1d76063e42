// Where `berth import` reads from: a directory (distribution's storage.filesystem.rootdirectory), or
// the old registry's own configuration file, of which only the storage section is read:
// storage.filesystem.rootdirectory, or storage.s3 with distribution's keys (accesskey, secretkey,
// region, regionendpoint, forcepathstyle, bucket, rootdirectory, secure, skipverify). Every other key
// of that file is distribution's business and ignored; REGISTRY_* variables are not applied to it
// (they configure Berth, the destination).
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { createS3Client, endpointUrl, type S3ClientSettings } from '../storage/s3/s3-client.js';
import type { DistributionLayout } from './distribution-layout.js';
import { FilesystemLayout } from './filesystem-layout.js';
import { S3Layout } from './s3-layout.js';

export type SourceConfig =
  | { readonly kind: 'filesystem'; readonly rootDirectory: string }
  | { readonly kind: 's3'; readonly settings: S3ClientSettings; readonly bucket: string; readonly rootDirectory: string };

export class SourceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceConfigError';
  }
}

/** distribution's default storage.filesystem.rootdirectory. */
const DEFAULT_ROOT = '/var/lib/registry';

/** The source named on the command line: a directory, or a distribution configuration file. */
export function sourceConfigOf(argument: string): SourceConfig {
  const info = statSync(argument, { throwIfNoEntry: false });
  if (info === undefined) throw new SourceConfigError(`${argument}: no such directory or file`);
  if (info.isDirectory()) return { kind: 'filesystem', rootDirectory: argument };
  let document: unknown;
  try {
    document = parseYaml(readFileSync(argument, 'utf8'));
  } catch (error) {
    throw new SourceConfigError(`${argument} is not valid YAML: ${(error as Error).message}`);
  }
  return parseSourceConfig(document, argument);
}

export function parseSourceConfig(document: unknown, file: string): SourceConfig {
  const storage = mapping(mapping(document, file, '')?.storage, file, 'storage');
  if (storage === undefined) throw new SourceConfigError(`${file}: no storage section`);
  const s3 = mapping(storage.s3, file, 'storage.s3');
  const filesystem = mapping(storage.filesystem, file, 'storage.filesystem');
  if (s3 !== undefined && filesystem !== undefined) throw new SourceConfigError(`${file}: storage has both s3 and filesystem`);
  if (s3 === undefined) {
    if (filesystem === undefined) throw new SourceConfigError(`${file}: storage is neither filesystem nor s3 (the drivers berth import reads)`);
    return { kind: 'filesystem', rootDirectory: text(filesystem, 'rootdirectory', file, 'storage.filesystem') ?? DEFAULT_ROOT };
  }
  const key = (name: string): string | undefined => text(s3, name, file, 'storage.s3');
  const region = key('region');
  const bucket = key('bucket');
  if (region === undefined || region === '') throw new SourceConfigError(`${file}: storage.s3.region is required`);
  if (bucket === undefined || bucket === '') throw new SourceConfigError(`${file}: storage.s3.bucket is required`);
  const regionEndpoint = key('regionendpoint');
  const settings: S3ClientSettings = {
    accessKey: key('accesskey') || undefined,
    secretKey: key('secretkey') || undefined,
    region,
    regionEndpoint: regionEndpoint || undefined,
    // 2.8 addresses a regionendpoint path-style (it has no forcepathstyle key); v3 has the key.
    forcePathStyle: flag(s3, 'forcepathstyle', file) ?? (regionEndpoint !== undefined && regionEndpoint !== ''),
    secure: flag(s3, 'secure', file) ?? true,
    skipVerify: flag(s3, 'skipverify', file) ?? false,
  };
  return { kind: 's3', settings, bucket, rootDirectory: key('rootdirectory') ?? '' };
}

export function layoutOf(config: SourceConfig): DistributionLayout {
  if (config.kind === 'filesystem') return new FilesystemLayout(config.rootDirectory);
  return new S3Layout({ client: createS3Client(config.settings), endpoint: endpointUrl(config.settings), bucket: config.bucket, rootDirectory: config.rootDirectory });
}

function mapping(value: unknown, file: string, path: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new SourceConfigError(`${file}: ${path === '' ? 'the file' : path} must be a mapping`);
  return value as Record<string, unknown>;
}

function text(node: Record<string, unknown>, name: string, file: string, path: string): string | undefined {
  const value = node[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new SourceConfigError(`${file}: ${path}.${name} must be a string`);
}

function flag(node: Record<string, unknown>, name: string, file: string): boolean | undefined {
  const value = node[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new SourceConfigError(`${file}: storage.s3.${name} must be true or false`);
}
