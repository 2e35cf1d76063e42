// distribution's storage layout in an S3 bucket (storage.s3: the same paths as on a filesystem, below
// `<rootdirectory>/docker/registry/v2/`). Directories are key prefixes: repositories are found by
// listing with the "/" delimiter, a repository's links by one flat listing below `<name>/_` (a
// repository name component never starts with "_", so that prefix holds no child repository), and
// each link object's text is read as the filesystem layout reads the file. Blobs are offered by
// location (bucket and key) so that an S3 destination can copy them server-side.
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { blobDataPath, parseLink, type BlobSource, type DistributionLayout, type LayoutRepository } from './distribution-layout.js';

export interface S3LayoutOptions {
  readonly client: S3Client;
  /** The endpoint URL (undefined: AWS), naming the source and telling a destination whether it can copy server-side. */
  readonly endpoint: string | undefined;
  readonly bucket: string;
  /** storage.s3.rootdirectory of the old registry ('' or '/' for the bucket's root). */
  readonly rootDirectory: string;
  /** Link objects read at once (default 16). */
  readonly concurrency?: number;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return name === 'NoSuchKey' || name === 'NotFound' || status === 404;
}

export class S3Layout implements DistributionLayout {
  readonly source: string;
  readonly #client: S3Client;
  readonly #options: S3LayoutOptions;
  /** `<rootdirectory>/docker/registry/v2/` as a key prefix. */
  readonly #root: string;

  constructor(options: S3LayoutOptions) {
    this.#client = options.client;
    this.#options = options;
    const root = options.rootDirectory.replace(/^\/+|\/+$/g, '');
    this.#root = `${root === '' ? '' : `${root}/`}docker/registry/v2/`;
    this.source = `s3:${options.endpoint ?? 'aws'}/${options.bucket}/${root}`;
  }

  async listRepositories(): Promise<string[]> {
    const names: string[] = [];
    const base = `${this.#root}repositories/`;
    const walk = async (relative: string): Promise<void> => {
      const children = await this.#subdirectories(relative === '' ? base : `${base}${relative}/`);
      if (relative !== '' && children.some((child) => child === '_manifests' || child === '_layers')) names.push(relative);
      for (const child of children) {
        if (!child.startsWith('_')) await walk(relative === '' ? child : `${relative}/${child}`);
      }
    };
    await walk('');
    return names.sort();
  }

  /** The "directories" directly below a prefix ending in "/". */
  async #subdirectories(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#options.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const common of page.CommonPrefixes ?? []) {
        if (common.Prefix !== undefined) names.push(common.Prefix.slice(prefix.length, -1));
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return names;
  }

  async #keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#options.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }

  /**
   * One listing below `<name>/_`: every link object's key, size and ETag (distribution writes a link
   * with one PutObject, so its ETag changes with its bytes; S3's one-second LastModified is not needed).
   */
  async quickFingerprint(name: string): Promise<{ fingerprint: string | undefined; uploads: number }> {
    const base = `${this.#root}repositories/${name}/`;
    const hash = createHash('sha256');
    const uploads = new Set<string>();
    let token: string | undefined;
    const objects: string[] = [];
    do {
      const page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#options.bucket, Prefix: `${base}_`, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        const relative = object.Key.slice(base.length);
        if (relative.startsWith('_uploads/')) {
          const id = relative.split('/')[1];
          if (id !== undefined && id !== '') uploads.add(id);
          continue;
        }
        objects.push(`${relative} ${object.Size ?? 0} ${object.ETag ?? '-'}\n`);
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    for (const line of objects.sort()) hash.update(line);
    return { fingerprint: hash.digest('hex'), uploads: uploads.size };
  }

  async readRepository(name: string): Promise<LayoutRepository> {
    const base = `${this.#root}repositories/${name}/`;
    const layerLinks: { key: string; expected: string }[] = [];
    const revisionLinks: { key: string; expected: string }[] = [];
    const tagNames = new Set<string>();
    const uploads = new Set<string>();
    for (const key of await this.#keys(`${base}_`)) {
      const parts = key.slice(base.length).split('/');
      if (parts[0] === '_layers' && parts.length === 4 && parts[3] === 'link') {
        layerLinks.push({ key, expected: `${parts[1]}:${parts[2]}` });
      } else if (parts[0] === '_manifests' && parts[1] === 'revisions' && parts.length === 5 && parts[4] === 'link') {
        revisionLinks.push({ key, expected: `${parts[2]}:${parts[3]}` });
      } else if (parts[0] === '_manifests' && parts[1] === 'tags' && parts.length > 3 && parts[2] !== undefined && parts[2] !== '') {
        tagNames.add(parts[2]);
      } else if (parts[0] === '_uploads' && parts.length > 2 && parts[1] !== undefined && parts[1] !== '') {
        uploads.add(parts[1]);
      }
    }
    const tagList = [...tagNames];
    const links = await this.#readLinks([...layerLinks.map((link) => link.key), ...revisionLinks.map((link) => link.key), ...tagList.map((tag) => `${base}_manifests/tags/${tag}/current/link`)]);
    // distribution names the directory after the digest; a link that says otherwise is ignored as it would be.
    const matching = (entries: { key: string; expected: string }[]): string[] =>
      entries.filter((entry) => links.get(entry.key) === entry.expected).map((entry) => entry.expected).sort();
    const tags = new Map<string, string | undefined>();
    for (const tag of tagList.sort()) tags.set(tag, links.get(`${base}_manifests/tags/${tag}/current/link`));
    return { name, layers: matching(layerLinks), revisions: matching(revisionLinks), tags, uploads: uploads.size };
  }

  /** Key → the digest the link object names (absent: missing or naming none). */
  async #readLinks(keys: readonly string[]): Promise<Map<string, string>> {
    const links = new Map<string, string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const key = keys[next++] as string;
        const bytes = await this.#getOrUndefined(key);
        const digest = bytes === undefined ? undefined : parseLink(bytes.toString('utf8'));
        if (digest !== undefined) links.set(key, digest);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.#options.concurrency ?? 16, keys.length)) }, worker));
    return links;
  }

  async #getOrUndefined(key: string): Promise<Buffer | undefined> {
    try {
      const object = await this.#client.send(new GetObjectCommand({ Bucket: this.#options.bucket, Key: key }));
      if (object.Body === undefined) return Buffer.alloc(0);
      return Buffer.from(await object.Body.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  #blobKey(digest: string): string | undefined {
    const relative = blobDataPath(digest);
    return relative === undefined ? undefined : this.#root + relative;
  }

  async blob(digest: string): Promise<BlobSource | undefined> {
    const key = this.#blobKey(digest);
    if (key === undefined) return undefined;
    let size: number;
    let etag: string | undefined;
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#options.bucket, Key: key }));
      size = head.ContentLength ?? 0;
      etag = head.ETag;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const { bucket, endpoint } = this.#options;
    return {
      size,
      // The ETag ties the bytes read (hashed) to the object a server-side copy takes.
      location: { kind: 's3', endpoint, bucket, key, etag },
      open: async () => {
        const object = await this.#client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(etag === undefined ? {} : { IfMatch: etag }) }));
        return object.Body as Readable;
      },
    };
  }

  async readBlob(digest: string): Promise<Buffer | undefined> {
    const key = this.#blobKey(digest);
    return key === undefined ? undefined : this.#getOrUndefined(key);
  }
}
