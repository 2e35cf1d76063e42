// Private configuration for the containers/image tools (skopeo, buildah, podman) and the
// docker CLI: a registries.conf that marks the registry insecure, private auth/config
// files, and private vfs stores, so nothing touches the machine's own state.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, runOk, type RunOptions, type RunResult } from './exec.js';

export interface Clients {
  env: NodeJS.ProcessEnv;
  dir: string;
  skopeo(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** buildah with the private store `store` (default "buildah"). */
  buildah(args: readonly string[], opts?: RunOptions & { store?: string }): Promise<RunResult>;
  podman(args: readonly string[], opts?: RunOptions & { store?: string }): Promise<RunResult>;
  /** The docker CLI with no daemon (DOCKER_HOST points at a socket nobody listens on). */
  docker(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Same, resolving whatever the exit status. */
  tryRun(cmd: 'skopeo' | 'buildah' | 'podman' | 'docker', args: readonly string[], opts?: RunOptions & { store?: string }): Promise<RunResult>;
}

/** `shortDir` holds podman's runroots (at most 50 characters long). */
export function makeClients(workDir: string, shortDir: string, registryHost: string, insecure = true): Clients {
  const dir = path.join(workDir, 'clients');
  mkdirSync(dir, { recursive: true });
  const registriesConf = path.join(dir, 'registries.conf');
  writeFileSync(
    registriesConf,
    ['unqualified-search-registries = []', '', '[[registry]]', `location = "${registryHost}"`, `insecure = ${String(insecure)}`, ''].join('\n'),
  );
  const storageConf = path.join(dir, 'storage.conf');
  writeFileSync(
    storageConf,
    ['[storage]', 'driver = "vfs"', `graphroot = "${path.join(dir, 'default-store')}"`, `runroot = "${path.join(dir, 'default-run')}"`, ''].join('\n'),
  );
  const containersConf = path.join(dir, 'containers.conf');
  writeFileSync(containersConf, ['[engine]', 'cgroup_manager = "cgroupfs"', 'events_logger = "none"', ''].join('\n'));
  const authFile = path.join(dir, 'auth.json');
  writeFileSync(authFile, '{"auths":{}}\n');
  const dockerConfig = path.join(dir, 'docker-config');
  mkdirSync(dockerConfig, { recursive: true });
  writeFileSync(path.join(dockerConfig, 'config.json'), '{"auths":{}}\n');
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTAINERS_REGISTRIES_CONF: registriesConf,
    CONTAINERS_STORAGE_CONF: storageConf,
    CONTAINERS_CONF: containersConf,
    REGISTRY_AUTH_FILE: authFile,
    DOCKER_CONFIG: dockerConfig,
    DOCKER_HOST: `unix://${path.join(dir, 'no-daemon.sock')}`,
    TMPDIR: tmp,
  };
  const storeArgs = (tool: string, store: string): string[] => [
    '--root', path.join(dir, `${tool}-${store}`, 'root'),
    '--runroot', path.join(dir, `${tool}-${store}`, 'run'),
    '--storage-driver', 'vfs',
  ];
  const argsFor = (cmd: string, args: readonly string[], store: string): string[] => {
    if (cmd === 'buildah') return [...storeArgs('buildah', store), ...args];
    if (cmd === 'podman') {
      return [
        '--root', path.join(dir, `podman-${store}`, 'root'),
        '--runroot', path.join(shortDir, `pr-${store}`),
        '--storage-driver', 'vfs',
        '--tmpdir', path.join(dir, `podman-${store}`, 'tmp'),
        '--cgroup-manager', 'cgroupfs', '--events-backend', 'none',
        ...args,
      ];
    }
    return [...args];
  };
  const withEnv = (opts: RunOptions | undefined): RunOptions => ({ ...opts, env: { ...env, ...opts?.env } });
  return {
    env,
    dir,
    skopeo: (args, opts) => runOk('skopeo', args, withEnv(opts)),
    buildah: (args, opts) => runOk('buildah', argsFor('buildah', args, opts?.store ?? 'buildah'), withEnv(opts)),
    podman: (args, opts) => runOk('podman', argsFor('podman', args, opts?.store ?? 'podman'), withEnv(opts)),
    docker: (args, opts) => runOk('docker', args, withEnv(opts)),
    tryRun: (cmd, args, opts) => run(cmd, argsFor(cmd, args, opts?.store ?? cmd), withEnv(opts)),
  };
}
