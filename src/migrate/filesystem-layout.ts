// distribution's storage layout on a filesystem (storage.filesystem.rootdirectory).
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
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

  async listRepositories(): Promise<string[]> {
    const names: string[] = [];
    const walk = async (relative: string): Promise<void> => {
      const entries = await readdirOrEmpty(join(this.#root, 'repositories', relative));
      const directories = entries.filter((entry) => entry.isDirectory());
      if (relative !== '' && directories.some((entry) => entry.name === '_manifests' || entry.name === '_layers')) names.push(relative);
      for (const entry of directories) {
        if (!entry.name.startsWith('_')) await walk(relative === '' ? entry.name : `${relative}/${entry.name}`);
      }
    };
    await walk('');
    return names.sort();
  }

  async readRepository(name: string): Promise<LayoutRepository> {
    const base = join(this.#root, 'repositories', ...name.split('/'));
    const layers = await this.#links(join(base, '_layers'));
    const revisions = await this.#links(join(base, '_manifests', 'revisions'));
    const tags = new Map<string, string | undefined>();
    for (const entry of await readdirOrEmpty(join(base, '_manifests', 'tags'))) {
      if (!entry.isDirectory()) continue;
      tags.set(entry.name, await readLink(join(base, '_manifests', 'tags', entry.name, 'current', 'link')));
    }
    const uploads = (await readdirOrEmpty(join(base, '_uploads'))).filter((entry) => entry.isDirectory()).length;
    return { name, layers, revisions, tags, uploads };
  }

  /**
   * distribution adds and removes a layer or revision link as a directory below `<algorithm>/`, so
   * that directory's mtime changes with them; a tag's `current/link` is rewritten in place, so its own
   * mtime (and size) is taken; a tag added or deleted changes `tags`' mtime.
   */
  async quickFingerprint(name: string): Promise<{ fingerprint: string | undefined; uploads: number }> {
    const base = join(this.#root, 'repositories', ...name.split('/'));
    const hash = createHash('sha256');
    const now = Date.now();
    let newest = 0;
    const note = async (label: string, path: string): Promise<void> => {
      const info = await stat(path, { bigint: true }).catch(() => undefined);
      if (info === undefined) {
        hash.update(`${label} -\n`);
        return;
      }
      hash.update(`${label} ${info.ino} ${info.size} ${info.mtimeNs} ${info.ctimeNs}\n`);
      newest = Math.max(newest, Number(info.mtimeMs), Number(info.ctimeMs));
    };
    for (const kind of ['_layers', '_manifests/revisions']) {
      const directory = join(base, ...kind.split('/'));
      await note(kind, directory);
      for (const algorithm of sortedByName(await readdirOrEmpty(directory))) if (algorithm.isDirectory()) await note(`${kind}/${algorithm.name}`, join(directory, algorithm.name));
    }
    const tags = join(base, '_manifests', 'tags');
    await note('tags', tags);
    for (const entry of sortedByName(await readdirOrEmpty(tags))) if (entry.isDirectory()) await note(`tag ${entry.name}`, join(tags, entry.name, 'current', 'link'));
    const uploads = (await readdirOrEmpty(join(base, '_uploads'))).filter((entry) => entry.isDirectory()).length;
    return { fingerprint: newest > now - this.#racyWindowMs ? undefined : hash.digest('hex'), uploads };
  }

  /** Digests linked below `<dir>/<algorithm>/<hex>/link`. */
  async #links(directory: string): Promise<string[]> {
    const digests: string[] = [];
    for (const algorithm of await readdirOrEmpty(directory)) {
      if (!algorithm.isDirectory()) continue;
      for (const hex of await readdirOrEmpty(join(directory, algorithm.name))) {
        if (!hex.isDirectory()) continue;
        const digest = await readLink(join(directory, algorithm.name, hex.name, 'link'));
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

  async blob(digest: string): Promise<BlobSource | undefined> {
    const path = this.blobPath(digest);
    if (path === undefined) return undefined;
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isFile()) return undefined;
    return { size: info.size, location: { kind: 'file', path }, open: () => Promise.resolve(createReadStream(path)) };
  }

  async readBlob(digest: string): Promise<Buffer | undefined> {
    const path = this.blobPath(digest);
    return path === undefined ? undefined : readFile(path).catch(() => undefined);
  }
}

function sortedByName(entries: import('node:fs').Dirent[]): import('node:fs').Dirent[] {
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function readdirOrEmpty(path: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw error;
  }
}

async function readLink(path: string): Promise<string | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseLink(text);
}
