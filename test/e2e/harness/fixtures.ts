// The offline fixtures (scripts/fixtures/build.mjs through scripts/fixtures.sh, cached
// in .tmp/fixtures): fixtures.tsv rows and contents.tsv rows.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runOk } from './exec.js';
import { dirCopy, ociLayout, type ContentRow, type ImageOnDisk } from './image-layout.js';
import { repoRoot } from './paths.js';

export interface Fixture {
  name: string;
  transport: 'oci' | 'dir' | 'docker-archive';
  /** Absolute path of the layout, dir copy or archive. */
  path: string;
  /** Absolute source reference for skopeo, e.g. `oci:/abs/oci/oci-image:latest`. */
  ref: string;
  kind: 'image' | 'index' | 'artifact' | 'archive';
  /** Expected digest of the top manifest (absent for archives: the pusher picks it). */
  digest: string | undefined;
  note: string;
}

export interface Fixtures {
  dir: string;
  list: Fixture[];
  contents: ContentRow[];
  get(name: string): Fixture;
  contentsOf(name: string): ContentRow[];
  /** The fixture on disk (not for archives). */
  image(name: string): ImageOnDisk;
}

export const fixturesDir = path.join(repoRoot, '.tmp', 'fixtures');

function parseTsv(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}

let cached: Fixtures | undefined;

/** Builds the fixtures when not cached yet (a few seconds) and reads their tables. */
export async function loadFixtures(): Promise<Fixtures> {
  if (cached) return cached;
  await runOk(path.join(repoRoot, 'scripts', 'fixtures.sh'), [fixturesDir], { timeoutMs: 600_000 });
  const list: Fixture[] = parseTsv(path.join(fixturesDir, 'fixtures.tsv')).map(([name = '', src = '', kind = '', digest = '', note = '']) => {
    const colon = src.indexOf(':');
    const transport = src.slice(0, colon) as Fixture['transport'];
    let rel = src.slice(colon + 1);
    let tag = '';
    if (transport === 'oci') {
      const t = rel.lastIndexOf(':');
      tag = rel.slice(t);
      rel = rel.slice(0, t);
    }
    const abs = path.join(fixturesDir, rel);
    return {
      name,
      transport,
      path: abs,
      ref: `${transport}:${abs}${tag}`,
      kind: kind as Fixture['kind'],
      digest: digest === '-' || digest === '' ? undefined : digest,
      note,
    };
  });
  const contents: ContentRow[] = parseTsv(path.join(fixturesDir, 'contents.tsv')).map(([name = '', platform = '', p = '', sha = '']) => ({
    name,
    platform,
    path: p,
    sha256: sha,
  }));
  const get = (name: string): Fixture => {
    const f = list.find((x) => x.name === name);
    if (!f) throw new Error(`no fixture ${name} in ${fixturesDir}/fixtures.tsv`);
    return f;
  };
  cached = {
    dir: fixturesDir,
    list,
    contents,
    get,
    contentsOf: (name) => contents.filter((r) => r.name === name),
    image: (name) => {
      const f = get(name);
      if (f.transport === 'oci') return ociLayout(f.path);
      if (f.transport === 'dir') return dirCopy(f.path);
      throw new Error(`fixture ${name} is an archive`);
    },
  };
  return cached;
}

/** The expected digest of a fixture (throws for archives). */
export function digestOf(f: Fixture): string {
  if (!f.digest) throw new Error(`fixture ${f.name} has no fixed digest`);
  return f.digest;
}
