// Runs `berth serve` as a child process (for tests that need to kill it), on a free loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export interface RegistryProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Sends a signal and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `stdout`: 'pipe' keeps the child's stdout (the JSON log) readable as child.stdout; `config`: a
 * configuration file for `berth serve`.
 */
export async function startRegistryProcess(dataDir: string, port: number, env: Record<string, string> = {}, options: { stdout?: 'pipe'; config?: string } = {}): Promise<RegistryProcess> {
  const child = spawn(process.execPath, [MAIN, 'serve', ...(options.config === undefined ? [] : [options.config])], {
    env: {
      ...process.env,
      REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`,
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dataDir,
      REGISTRY_STORAGE_DELETE_ENABLED: 'true',
      REGISTRY_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', options.stdout ?? 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth exited with ${child.exitCode} during start-up`);
    try {
      const response = await fetch(`${url}/v2/`);
      // 401: up, with access control on.
      if (response.status === 200 || response.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('berth did not answer /v2/ within 20 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    child,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}
