// A generated distribution storage layout for the import bench (issue 17), written fast: every file
// exactly as distribution lays it out (registry/storage/paths.go), but with blobs shared the way a
// real registry shares them, so that 100,000 tags do not mean 400,000 blob files. Per repository:
// one config and one layer of its own; per namespace (100 of them): one shared base layer; per tag:
// its own manifest (an OCI image manifest over those three blobs, made distinct by an annotation).
// Sync writes with a cache of the directories made (the layout is written once, then reused), no
// recursive mkdir per file.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function sha256(bytes) {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export class LayoutGenerator {
  #v2;
  #made = new Set();
  #blobs = new Set();
  files = 0;
  blobs = 0;

  /** `root` is distribution's storage.filesystem.rootdirectory. */
  constructor(root) {
    this.root = root;
    this.#v2 = join(root, 'docker', 'registry', 'v2');
  }

  #dir(relative) {
    if (this.#made.has(relative)) return;
    mkdirSync(join(this.#v2, relative), { recursive: true });
    // Every ancestor exists now too.
    for (let at = relative.length; at > 0; at = relative.lastIndexOf('/', at - 1)) {
      const prefix = relative.slice(0, at);
      if (this.#made.has(prefix)) break;
      this.#made.add(prefix);
    }
  }

  #write(directory, name, bytes) {
    this.#dir(directory);
    writeFileSync(join(this.#v2, directory, name), bytes);
    this.files++;
  }

  blob(bytes) {
    const digest = sha256(bytes);
    if (this.#blobs.has(digest)) return digest;
    this.#blobs.add(digest);
    const hex = digest.slice(7);
    this.#write(`blobs/sha256/${hex.slice(0, 2)}/${hex}`, 'data', bytes);
    this.blobs++;
    return digest;
  }

  link(repository, kind, digest) {
    this.#write(`repositories/${repository}/${kind}/sha256/${digest.slice(7)}`, 'link', digest);
  }

  /** A repository with `tags` tags v0…; `namespace` picks its shared base layer. */
  repository(repository, namespace, tags) {
    const base = Buffer.from(`base layer of namespace ${namespace}\n`.repeat(64));
    const own = Buffer.from(`layer of ${repository}\n`.repeat(32));
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(base), sha256(own)] }, repository }));
    const layers = [base, own].map((bytes) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: this.blob(bytes), size: bytes.length }));
    const configDigest = this.blob(config);
    this.link(repository, '_layers', configDigest);
    for (const layer of layers) this.link(repository, '_layers', layer.digest);
    for (let t = 0; t < tags; t++) {
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
          layers,
          annotations: { 'org.opencontainers.image.version': `v${t}`, 'org.opencontainers.image.ref.name': `${repository}:v${t}` },
        }),
      );
      const digest = this.blob(manifest);
      this.link(repository, '_manifests/revisions', digest);
      const tag = `repositories/${repository}/_manifests/tags/v${t}`;
      this.#write(`${tag}/current`, 'link', digest);
      this.#write(`${tag}/index/sha256/${digest.slice(7)}`, 'link', digest);
    }
  }
}
