// A private containerd (root, state and sockets in the suite's own folders, CRI disabled),
// driven with ctr in its own namespace.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnDaemon, type Daemon } from './daemon.js';
import { run, runOk, waitFor, type RunOptions, type RunResult } from './exec.js';

export interface Containerd {
  socket: string;
  daemon: Daemon;
  /** `ctr -a SOCKET -n e2e …`, throwing with stderr unless it exits 0. */
  ctr(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  stop(): Promise<void>;
}

export const CTR_NAMESPACE = 'e2e';

/** Starts containerd with `dir` for its root and `shortDir` for its state and sockets. */
export async function startContainerd(dir: string, shortDir: string): Promise<Containerd> {
  const root = path.join(dir, 'containerd');
  const state = path.join(shortDir, 'cd');
  mkdirSync(root, { recursive: true });
  mkdirSync(state, { recursive: true });
  const socket = path.join(shortDir, 'containerd.sock');
  const config = path.join(root, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${path.join(root, 'root')}"`,
      `state = "${state}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '  level = "warn"',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${path.join(root, 'opt')}"`,
      '',
    ].join('\n'),
  );
  const daemon = spawnDaemon('containerd', 'containerd', ['--config', config], path.join(root, 'containerd.log'));
  const ctrBase = ['-a', socket, '-n', CTR_NAMESPACE];
  try {
    await waitFor(
      'containerd to answer',
      async () => {
        if (daemon.exited()) throw new Error(`containerd exited early:\n${daemon.logTail()}`);
        return (await run('ctr', [...ctrBase, 'version'], { timeoutMs: 10_000 })).code === 0;
      },
      60_000,
      300,
    );
  } catch (e) {
    await daemon.stop(5000);
    throw e;
  }
  return {
    socket,
    daemon,
    ctr: (args, opts) => runOk('ctr', [...ctrBase, ...args], opts),
    stop: async () => {
      await daemon.stop(20_000);
    },
  };
}
