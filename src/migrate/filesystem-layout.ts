// distribution's storage layout on a filesystem (storage.filesystem.rootdirectory).
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { blobDataPath, parseLink, type BlobSource, type DistributionLayout, type LayoutRepository } from './distribution-layout.js';

export class FilesystemLayout implements DistributionLayout {
  readonly source: string;
  readonly #root: string;

  /** `rootDirectory` is distribution's storage.filesystem.rootdirectory (docker/registry/v2 is below it). */
  constructor(rootDirectory: string) {
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
