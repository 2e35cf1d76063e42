// Writes distribution's storage layout by hand (as distribution's registry/storage/paths.go lays it
// out): the broken-layout, kill -9 and bench inputs, where a real docker-registry cannot produce the
// damage (a corrupt blob, a schema1 manifest, a dangling link) or the size in reasonable time.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export class LayoutWriter {
  readonly root: string;
  readonly #v2: string;

  /** `root` is what distribution calls storage.filesystem.rootdirectory. */
  constructor(root: string) {
    this.root = root;
    this.#v2 = join(root, 'docker', 'registry', 'v2');
  }

  #write(relative: string, bytes: Buffer | string): void {
    const path = join(this.#v2, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  }

  /** Stores bytes under blobs/ (as the digest says, whatever the bytes are: pass `digest` to lie). */
  blob(bytes: Buffer | string, digest = sha256(bytes)): string {
    const hex = digest.slice('sha256:'.length);
    this.#write(`blobs/sha256/${hex.slice(0, 2)}/${hex}/data`, bytes);
    return digest;
  }

  layerLink(repository: string, digest: string): void {
    this.#write(`repositories/${repository}/_layers/sha256/${digest.slice(7)}/link`, digest);
  }

  revisionLink(repository: string, digest: string): void {
    this.#write(`repositories/${repository}/_manifests/revisions/sha256/${digest.slice(7)}/link`, digest);
  }

  tag(repository: string, tag: string, digest: string): void {
    this.#write(`repositories/${repository}/_manifests/tags/${tag}/current/link`, digest);
    this.#write(`repositories/${repository}/_manifests/tags/${tag}/index/sha256/${digest.slice(7)}/link`, digest);
  }

  upload(repository: string, id: string, bytes: Buffer | string): void {
    this.#write(`repositories/${repository}/_uploads/${id}/data`, bytes);
    this.#write(`repositories/${repository}/_uploads/${id}/startedat`, new Date().toISOString());
  }

  /** An OCI image (config + layers, all linked) pushed to the repository, tagged when `tag` is given; returns its digest. */
  image(repository: string, layers: readonly (Buffer | string)[], tag?: string, extra: Record<string, unknown> = {}): string {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed: repository + String(layers.length) }));
    const configDigest = this.blob(config);
    this.layerLink(repository, configDigest);
    const descriptors = layers.map((layer) => {
      const digest = this.blob(layer);
      this.layerLink(repository, digest);
      return { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: Buffer.byteLength(layer) };
    });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: descriptors,
        ...extra,
      }),
    );
    return this.manifest(repository, manifest, tag);
  }

  /** Any manifest bytes as a revision of the repository (and a tag); returns its digest. */
  manifest(repository: string, bytes: Buffer, tag?: string): string {
    const digest = this.blob(bytes);
    this.revisionLink(repository, digest);
    if (tag !== undefined) this.tag(repository, tag, digest);
    return digest;
  }

  /** An OCI index over manifests already in the repository. */
  index(repository: string, children: readonly { digest: string; size: number }[], tag?: string): string {
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: children.map((child, i) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: child.digest, size: child.size, platform: { architecture: `arch${i}`, os: 'linux' } })),
      }),
    );
    return this.manifest(repository, bytes, tag);
  }
}
