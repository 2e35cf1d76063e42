// Another Berth store as the source of `berth import` (docs/import.md): an embedded install
// (filesystem + SQLite) moved to S3 + PostgreSQL, or back. It is presented as distribution's layout
// would be: a repository's blob links are its layer links, its manifests (tagged or not) its
// revisions, its tags its tags; manifest bytes come from the metadata store, blob bytes from the
// storage driver, located for a hard link or a server-side copy when the driver says where they are.
import type { ExportStore } from '../metadata/export-store.js';
import type { MetadataStore } from '../metadata/store.js';
import { blobKey } from '../registry/blob-keys.js';
import { isDigest, type Digest } from '../registry/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import type { BlobSource, DistributionLayout, LayoutRepository } from './distribution-layout.js';

const PAGE = 1000;

export class BerthLayout implements DistributionLayout {
  readonly source: string;
  readonly #metadata: MetadataStore & ExportStore;
  readonly #storage: StorageDriver;

  /** `source` names the store (the journal's key): the same store imported twice is the same name. */
  constructor(source: string, metadata: MetadataStore & ExportStore, storage: StorageDriver) {
    this.source = source;
    this.#metadata = metadata;
    this.#storage = storage;
  }

  async listRepositories(): Promise<string[]> {
    const names: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await this.#metadata.listRepositories({ limit: PAGE, after: last });
      names.push(...page);
      if (page.length < PAGE) break;
      last = page[page.length - 1];
    }
    return names.sort();
  }

  async readRepository(name: string): Promise<LayoutRepository> {
    const contents = await this.#metadata.readRepositoryContents(name);
    return { name, layers: contents.blobs, revisions: contents.manifests, tags: new Map(contents.tags), uploads: 0 };
  }

  async blob(digest: string): Promise<BlobSource | undefined> {
    if (!isDigest(digest)) return undefined;
    const key = blobKey(digest as Digest);
    const info = await this.#storage.stat(key);
    if (info === undefined) return undefined;
    const storage = this.#storage;
    const location = storage.locate?.(key);
    return { size: info.size, ...(location === undefined ? {} : { location }), open: () => storage.read(key) };
  }

  readBlob(digest: string): Promise<Buffer | undefined> {
    return this.#metadata.getManifestPayload(digest);
  }
}
