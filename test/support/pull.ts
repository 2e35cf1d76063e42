// Pulls an image fully over the HTTP API, as a client would: the manifest by reference, then every
// blob and (for an index) every child manifest it names, each checked against its digest.
import { createHash } from 'node:crypto';

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Descriptor {
  readonly digest: string;
  readonly size: number;
}

interface ParsedManifest {
  readonly config?: Descriptor;
  readonly layers?: readonly Descriptor[];
  readonly manifests?: readonly Descriptor[];
}

/** Undefined when everything was served with its exact bytes, else what went wrong. */
export async function pullFully(url: string, repository: string, reference: string, expectedDigest?: string): Promise<string | undefined> {
  const response = await fetch(`${url}/v2/${repository}/manifests/${reference}`, {
    headers: {
      Accept: [
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
      ].join(', '),
    },
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) return `${repository}:${reference}: manifest answered ${response.status}`;
  const digest = sha256(bytes);
  if (expectedDigest !== undefined && digest !== expectedDigest) return `${repository}:${reference}: manifest is ${digest}, expected ${expectedDigest}`;
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as ParsedManifest;
  for (const child of parsed.manifests ?? []) {
    const problem = await pullFully(url, repository, child.digest, child.digest);
    if (problem !== undefined) return problem;
  }
  for (const blob of [...(parsed.config === undefined ? [] : [parsed.config]), ...(parsed.layers ?? [])]) {
    const problem = await pullBlob(url, repository, blob);
    if (problem !== undefined) return `${repository}:${reference}: ${problem}`;
  }
  return undefined;
}

export async function pullBlob(url: string, repository: string, blob: Descriptor): Promise<string | undefined> {
  const response = await fetch(`${url}/v2/${repository}/blobs/${blob.digest}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) return `blob ${blob.digest} answered ${response.status}`;
  if (sha256(bytes) !== blob.digest || bytes.length !== blob.size) return `blob ${blob.digest} served other bytes`;
  return undefined;
}
