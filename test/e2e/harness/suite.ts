// One test file's world: fixtures, a fresh registry, private client config, and the list of
// things to stop (by pid) and clean up in its `after` hook.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { makeClients, type Clients } from './clients.js';
import { run } from './exec.js';
import { loadFixtures, type Fixtures } from './fixtures.js';
import { freshShortDir, freshWorkDir } from './paths.js';
import { RegistryApi } from './registry-api.js';
import { startRegistry, type Registry, type RegistryOptions } from './registry-process.js';

export interface Suite {
  work: string;
  /** A short-path folder for sockets and podman runroots. */
  short: string;
  fx: Fixtures;
  reg: Registry;
  clients: Clients;
  api: RegistryApi;
  /** Registers a stop/cleanup step; steps run in reverse order in `stopSuite`. */
  onStop(step: () => Promise<void>): void;
  /** A path inside the work dir. */
  file(...parts: string[]): string;
}

/** Upper bound for one test file (its clients are bounded one by one too, see exec.ts). */
export const FILE_TIMEOUT_MS = 10 * 60_000;

const stops = new WeakMap<Suite, (() => Promise<void>)[]>();

export interface SuiteOptions {
  /** Registry configuration beyond the defaults (access control, TLS); Berth only. */
  readonly registry?: (work: string) => RegistryOptions;
  /** Whether the clients' registries.conf marks the registry insecure (default true). */
  readonly insecure?: boolean;
}

export async function startSuite(name: string, options: SuiteOptions = {}): Promise<Suite> {
  const work = freshWorkDir(name);
  const short = freshShortDir();
  const fx = await loadFixtures();
  const reg = await startRegistry(work, undefined, options.registry?.(work));
  const steps: (() => Promise<void>)[] = [() => reg.stop()];
  const suite: Suite = {
    work,
    short,
    fx,
    reg,
    clients: makeClients(work, short, reg.host, options.insecure ?? true),
    api: new RegistryApi(reg.url),
    onStop: (step) => steps.push(step),
    file: (...parts) => path.join(work, ...parts),
  };
  stops.set(suite, steps);
  return suite;
}

/** Mount points under `dir` (deepest first), e.g. left by containerd's overlayfs or podman. */
function mountsUnder(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Stops everything the suite started and removes its work dir (kept with E2E_KEEP=1). */
export async function stopSuite(suite: Suite | undefined): Promise<void> {
  if (!suite) return;
  const steps = stops.get(suite) ?? [];
  const errors: string[] = [];
  for (const step of steps.reverse()) {
    try {
      await step();
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e));
    }
  }
  for (const dir of [suite.work, suite.short]) {
    for (const m of mountsUnder(dir)) await run('umount', ['-l', m], { timeoutMs: 20_000 });
  }
  // Kept for a look when stopping went wrong (its logs are named in the error) or with E2E_KEEP=1.
  if (process.env.E2E_KEEP !== '1' && errors.length === 0) {
    rmSync(suite.work, { recursive: true, force: true });
    rmSync(suite.short, { recursive: true, force: true });
  }
  if (errors.length > 0) throw new Error(`stopping the ${path.basename(suite.work)} suite (work dir kept):\n${errors.join('\n')}`);
}
