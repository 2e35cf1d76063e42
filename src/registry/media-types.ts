// Media types of image-spec and of Docker's distribution that the registry gives meaning to.
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Layer media types whose bytes a registry is not expected to hold (they carry `urls`). */
const NON_DISTRIBUTABLE = [
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
];

export function isNonDistributable(mediaType: string): boolean {
  return NON_DISTRIBUTABLE.includes(mediaType);
}

/** The bare type of a Content-Type header value (no parameters, lower case). */
export function bareMediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const bare = header.split(';', 1)[0]?.trim().toLowerCase();
  return bare === '' ? undefined : bare;
}
