// A private Docker engine (dockerd 20.10) on the suite's containerd: own data/exec roots and
// socket, no networking setup (no bridge, no iptables), vfs storage, the registry insecure.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnDaemon, type Daemon } from './daemon.js';
import { run, runOk, waitFor, type RunOptions, type RunResult } from './exec.js';

export interface Dockerd {
  host: string;
  daemon: Daemon;
  /** `docker -H HOST …` with the suite's private client env, throwing with stderr unless it exits 0. */
  docker(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  tryDocker(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  stop(): Promise<void>;
}

export interface DockerdOptions {
  /** daemon.json's `registry-mirrors` (URLs): Docker Hub pulls go there first. */
  readonly registryMirrors?: readonly string[];
  /**
   * An HTTP(S) proxy for the engine's registry traffic, loopback excepted (NO_PROXY): a closed port
   * keeps a fallback to Docker Hub from leaving the machine.
   */
  readonly proxy?: string;
}

export async function startDockerd(
  dir: string,
  shortDir: string,
  containerdSocket: string,
  registryHost: string,
  clientEnv: NodeJS.ProcessEnv,
  options: DockerdOptions = {},
): Promise<Dockerd> {
  const root = path.join(dir, 'dockerd');
  mkdirSync(root, { recursive: true });
  const execRoot = path.join(shortDir, 'de');
  const host = `unix://${path.join(shortDir, 'docker.sock')}`;
  const configFile = path.join(root, 'daemon.json');
  writeFileSync(configFile, `${JSON.stringify(options.registryMirrors === undefined ? {} : { 'registry-mirrors': options.registryMirrors })}\n`);
  const args = [
    '--data-root', path.join(root, 'data'),
    '--exec-root', execRoot,
    '--pidfile', path.join(root, 'docker.pid'),
    '--host', host,
    '--config-file', configFile,
    '--containerd', containerdSocket,
    '--bridge', 'none',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--storage-driver', 'vfs',
    '--insecure-registry', registryHost,
    '--log-level', 'warn',
  ];
  const daemonEnv = options.proxy === undefined ? process.env : { ...process.env, HTTP_PROXY: options.proxy, HTTPS_PROXY: options.proxy, NO_PROXY: '127.0.0.1,localhost' };
  const daemon = spawnDaemon('dockerd', 'dockerd', args, path.join(root, 'dockerd.log'), daemonEnv);
  const env = { ...clientEnv, DOCKER_HOST: host };
  const withEnv = (opts?: RunOptions): RunOptions => ({ ...opts, env: { ...env, ...opts?.env } });
  try {
    await waitFor(
      'dockerd to answer',
      async () => {
        if (daemon.exited()) throw new Error(`dockerd exited early:\n${daemon.logTail()}`);
        return (await run('docker', ['version', '--format', '{{.Server.Version}}'], withEnv({ timeoutMs: 10_000 }))).code === 0;
      },
      90_000,
      300,
    );
  } catch (e) {
    await daemon.stop(10_000);
    throw e;
  }
  return {
    host,
    daemon,
    docker: (a, opts) => runOk('docker', a, withEnv(opts)),
    tryDocker: (a, opts) => run('docker', a, withEnv(opts)),
    stop: async () => {
      await daemon.stop(30_000);
    },
  };
}
