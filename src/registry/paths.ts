// The spec's resource paths, as Location headers and Link headers name them.
import type { Digest } from './digest.js';
import type { RepositoryName } from './names.js';

export const uploadPath = (name: RepositoryName, id: string): string => `/v2/${name}/blobs/uploads/${id}`;
export const blobPath = (name: RepositoryName, digest: Digest): string => `/v2/${name}/blobs/${digest}`;
export const manifestPath = (name: RepositoryName, reference: string): string => `/v2/${name}/manifests/${reference}`;
export const tagsPath = (name: RepositoryName): string => `/v2/${name}/tags/list`;
export const referrersPath = (name: RepositoryName, digest: Digest): string => `/v2/${name}/referrers/${digest}`;
export const catalogPath = (): string => '/v2/_catalog';
