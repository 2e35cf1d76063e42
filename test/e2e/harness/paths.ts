// Where things live: the repo root and the e2e scratch space.
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`e2e: no repo root above ${start}`);
    dir = parent;
  }
}

/** The repository root (works from test/e2e/harness and from dist/test/e2e/harness). */
export const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));

/** Scratch space of the e2e suite (git-ignored). */
export const e2eTmpRoot = path.join(repoRoot, '.tmp', 'e2e');

/** A fresh scratch folder `.tmp/e2e/<prefix>-XXXXXX` for one test file. */
export function freshWorkDir(prefix: string): string {
  mkdirSync(e2eTmpRoot, { recursive: true });
  return mkdtempSync(path.join(e2eTmpRoot, `${prefix}-`));
}

/**
 * A fresh folder with a short path, for what has length limits: unix sockets (108-byte
 * sun_path) and podman's runroot (at most 50 characters). Under `.tmp/e2e` when that is
 * short enough, else in the system temp dir. The caller removes it.
 */
export function freshShortDir(): string {
  mkdirSync(e2eTmpRoot, { recursive: true });
  const base = e2eTmpRoot.length + '/s-XXXXXX'.length <= 30 ? path.join(e2eTmpRoot, 's-') : path.join(tmpdir(), 'be2e-');
  return mkdtempSync(base);
}
