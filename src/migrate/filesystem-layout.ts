// distribution's storage layout on a filesystem (storage.filesystem.rootdirectory). Links,
// directories and manifests are read with synchronous calls: each is one small file or directory
// (a link is 71 bytes), and a promise-based read costs four thread-pool round trips (open, fstat,
// read, close) for it; on 100,000 tags that was most of a pass. Blob bytes are streamed.
import { createReadStream, readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { blobDataPath, parseLink, type BlobSource, type DistributionLayout, type LayoutRepository } from './distribution-layout.js';

export class FilesystemLayout implements DistributionLayout {
  readonly source: string;
  readonly #root: string;

  readonly #racyWindowMs: number;

  /**
   * `rootDirectory` is distribution's storage.filesystem.rootdirectory (docker/registry/v2 is below it).
   * `racyWindowMs`: an mtime this close to now makes the quick fingerprint untrustworthy (default 3 s,
   * far above any filesystem's timestamp granularity).
   */
  constructor(rootDirectory: string, options: { readonly racyWindowMs?: number } = {}) {
    this.#racyWindowMs = options.racyWindowMs ?? 3000;
    this.#root = join(resolve(rootDirectory), 'docker', 'registry', 'v2');
    this.source = `filesystem:${resolve(rootDirectory)}`;
  }

  listRepositories(): Promise<string[]> {
    const names: string[] = [];
    const walk = (relative: string): void => {
      const entries = readdirOrEmpty(join(this.#root, 'repositories', relative));
      const directories = entries.filter((entry) => entry.isDirectory());
      if (relative !== '' && directories.some((entry) => entry.name === '_manifests' || entry.name === '_layers')) names.push(relative);
      for (const entry of directories) {
        if (!entry.name.startsWith('_')) walk(relative === '' ? entry.name : `${relative}/${entry.name}`);
      }
    };
    walk('');
    return Promise.resolve(names.sort());
  }

  readRepository(name: string): Promise<LayoutRepository> {
    const base = join(this.#root, 'repositories', ...name.split('/'));
    const layers = this.#links(join(base, '_layers'));
    const revisions = this.#links(join(base, '_manifests', 'revisions'));
    const tags = new Map<string, string | undefined>();
    for (const entry of readdirOrEmpty(join(base, '_manifests', 'tags'))) {
      if (!entry.isDirectory()) continue;
      tags.set(entry.name, readLink(join(base, '_manifests', 'tags', entry.name, 'current', 'link')));
    }
    const uploads = readdirOrEmpty(join(base, '_uploads')).filter((entry) => entry.isDirectory()).length;
    return Promise.resolve({ name, layers, revisions, tags, uploads });
  }

  /**
   * distribution adds and removes a layer or revision link as a directory below `<algorithm>/`, so
   * that directory's mtime changes with them; a tag's `current/link` is rewritten in place, so its own
   * mtime (and size) is taken; a tag added or deleted changes `tags`' mtime.
   */
  quickFingerprint(name: string): Promise<{ fingerprint: string | undefined; uploads: number }> {
    const base = join(this.#root, 'repositories', ...name.split('/'));
    const hash = createHash('sha256');
    const now = Date.now();
    let newest = 0;
    const note = (label: string, path: string): void => {
      const info = statSync(path, { bigint: true, throwIfNoEntry: false });
      if (info === undefined) {
        hash.update(`${label} -\n`);
        return;
      }
      hash.update(`${label} ${info.ino} ${info.size} ${info.mtimeNs} ${info.ctimeNs}\n`);
      newest = Math.max(newest, Number(info.mtimeMs), Number(info.ctimeMs));
    };
    for (const kind of ['_layers', '_manifests/revisions']) {
      const directory = join(base, ...kind.split('/'));
      note(kind, directory);
      for (const algorithm of sortedByName(readdirOrEmpty(directory))) if (algorithm.isDirectory()) note(`${kind}/${algorithm.name}`, join(directory, algorithm.name));
    }
    const tags = join(base, '_manifests', 'tags');
    note('tags', tags);
    for (const entry of sortedByName(readdirOrEmpty(tags))) if (entry.isDirectory()) note(`tag ${entry.name}`, join(tags, entry.name, 'current', 'link'));
    const uploads = readdirOrEmpty(join(base, '_uploads')).filter((entry) => entry.isDirectory()).length;
    return Promise.resolve({ fingerprint: newest > now - this.#racyWindowMs ? undefined : hash.digest('hex'), uploads });
  }

  /** Digests linked below `<dir>/<algorithm>/<hex>/link`. */
  #links(directory: string): string[] {
    const digests: string[] = [];
    for (const algorithm of readdirOrEmpty(directory)) {
      if (!algorithm.isDirectory()) continue;
      for (const hex of readdirOrEmpty(join(directory, algorithm.name))) {
        if (!hex.isDirectory()) continue;
        const digest = readLink(join(directory, algorithm.name, hex.name, 'link'));
        // distribution names the directory after the digest; a link that says otherwise is ignored as it would be.
        if (digest === `${algorithm.name}:${hex.name}`) digests.push(digest);
      }
    }
    return digests.sort();
  }

  blobPath(digest: string): string | undefined {
    const relative = blobDataPath(digest);
    return relative === undefined ? undefined : join(this.#root, relative);
  }

  blob(digest: string): Promise<BlobSource | undefined> {
    const path = this.blobPath(digest);
    if (path === undefined) return Promise.resolve(undefined);
    const info = statSync(path, { throwIfNoEntry: false });
    if (info === undefined || !info.isFile()) return Promise.resolve(undefined);
    return Promise.resolve({ size: info.size, location: { kind: 'file', path }, open: () => Promise.resolve(createReadStream(path)) });
  }

  /** A manifest's bytes (distribution caps a manifest at 4 MiB). */
  readBlob(digest: string): Promise<Buffer | undefined> {
    const path = this.blobPath(digest);
    return Promise.resolve(path === undefined ? undefined : readOrUndefined(path));
  }
}

function sortedByName(entries: Dirent[]): Dirent[] {
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function readdirOrEmpty(path: string): Dirent[] {
  try {
    return readdirSync(path, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw error;
  }
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function readLink(path: string): string | undefined {
  const text = readOrUndefined(path);
  return text === undefined ? undefined : parseLink(text.toString('utf8'));
}
