// Reading images on disk in the layouts the clients write: an OCI layout (`oci:`), a
// containers/image `dir:` copy, and checking their blobs and file contents.
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { hexOf, isIndex, parseJson, platformOf, sha256, sha256File, type Manifest } from './digests.js';
import { runOk } from './exec.js';

export interface ImageOnDisk {
  kind: 'oci' | 'dir';
  root: string;
  /** Digest of the top manifest. */
  topDigest: string;
  /** Bytes of the manifest or blob with this digest. */
  read(digest: string): Buffer;
  /** Path of the blob file with this digest. */
  blobPath(digest: string): string;
}

interface OciIndexJson {
  manifests: { digest: string; annotations?: Record<string, string> }[];
}

/** An OCI layout; `tag` picks the index.json entry by ref name (default: the first entry). */
export function ociLayout(root: string, tag?: string): ImageOnDisk {
  const index = parseJson<OciIndexJson>(readFileSync(path.join(root, 'index.json')));
  const entry = tag === undefined ? index.manifests[0] : index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag) ?? index.manifests[0];
  if (!entry) throw new Error(`${root}: empty index.json`);
  const blobPath = (digest: string): string => path.join(root, 'blobs', 'sha256', hexOf(digest));
  return { kind: 'oci', root, topDigest: entry.digest, blobPath, read: (d) => readFileSync(blobPath(d)) };
}

/** A `dir:` copy: manifest.json on top, child manifests as `<hex>.manifest.json`, blobs as `<hex>`. */
export function dirCopy(root: string): ImageOnDisk {
  const top = readFileSync(path.join(root, 'manifest.json'));
  const topDigest = sha256(top);
  const blobPath = (digest: string): string => {
    if (digest === topDigest) return path.join(root, 'manifest.json');
    const asManifest = path.join(root, `${hexOf(digest)}.manifest.json`);
    return existsSync(asManifest) ? asManifest : path.join(root, hexOf(digest));
  };
  return { kind: 'dir', root, topDigest, blobPath, read: (d) => readFileSync(blobPath(d)) };
}

/** Every digest the image references: manifests (top and children), configs and layers. */
export function referencedDigests(img: ImageOnDisk, digest = img.topDigest): string[] {
  const m = parseJson<Manifest>(img.read(digest));
  const out = [digest];
  if (isIndex(m)) {
    for (const child of m.manifests ?? []) {
      if (existsSync(img.blobPath(child.digest))) out.push(...referencedDigests(img, child.digest));
    }
    return out;
  }
  if (m.config) out.push(m.config.digest);
  for (const l of m.layers ?? []) out.push(l.digest);
  return out;
}

/** Checks every blob the image references is present and hashes to its digest. Returns problems. */
export async function checkBlobs(img: ImageOnDisk): Promise<string[]> {
  const problems: string[] = [];
  for (const d of new Set(referencedDigests(img))) {
    const p = img.blobPath(d);
    if (!existsSync(p)) problems.push(`${d}: missing (${p})`);
    else if ((await sha256File(p)) !== d) problems.push(`${d}: content hashes to something else`);
  }
  return problems;
}

export interface ContentRow {
  name: string;
  platform: string;
  path: string;
  sha256: string;
}

/** Unpacks layer files (gzip, zstd or plain tar; tar detects which) in order into `rootDir`. */
export async function unpackLayers(layerFiles: readonly string[], rootDir: string): Promise<void> {
  mkdirSync(rootDir, { recursive: true });
  for (const f of layerFiles) await runOk('tar', ['-xf', f, '-C', rootDir, '--no-same-owner'], { timeoutMs: 120_000 });
}

/** Compares files under `rootDir` with the expected rows. Returns problems. */
export async function checkFiles(rootDir: string, rows: readonly ContentRow[]): Promise<string[]> {
  const problems: string[] = [];
  for (const r of rows) {
    const p = path.join(rootDir, r.path);
    if (!existsSync(p)) problems.push(`${r.platform} ${r.path}: missing under ${rootDir}`);
    else if ((await sha256File(p)) !== `sha256:${r.sha256}`) problems.push(`${r.platform} ${r.path}: content differs`);
  }
  if (rows.length === 0) problems.push('no expected contents given');
  return problems;
}

/**
 * Unpacks the image (every platform of an index that has expected rows) under `scratch`
 * and compares the files with `rows`. Returns problems.
 */
export async function checkImageFiles(img: ImageOnDisk, rows: readonly ContentRow[], scratch: string): Promise<string[]> {
  const top = parseJson<Manifest>(img.read(img.topDigest));
  const targets: { platform: string; digest: string }[] = isIndex(top)
    ? (top.manifests ?? []).map((d) => ({ platform: platformOf(d), digest: d.digest }))
    : [{ platform: rows[0]?.platform ?? 'linux/amd64', digest: img.topDigest }];
  const problems: string[] = [];
  let checked = 0;
  for (const t of targets) {
    const want = rows.filter((r) => r.platform === t.platform);
    if (want.length === 0) continue;
    checked++;
    const m = parseJson<Manifest>(img.read(t.digest));
    const rootDir = path.join(scratch, `${t.platform.replace(/\//g, '-')}-${hexOf(t.digest).slice(0, 12)}`);
    await unpackLayers((m.layers ?? []).map((l) => img.blobPath(l.digest)), rootDir);
    problems.push(...(await checkFiles(rootDir, want)));
  }
  if (checked === 0) problems.push(`no platform of ${img.topDigest} has expected contents`);
  return problems;
}

/** File names in a folder (empty when it does not exist). */
export function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}
