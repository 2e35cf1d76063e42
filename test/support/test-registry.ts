// Starts a Berth app in-process on a free loopback port for HTTP tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';

export interface TestRegistry {
  readonly url: string;
  readonly app: App;
  readonly dataDir: string | undefined;
  stop(): Promise<void>;
}

export interface TestRegistryOptions {
  /** 'filesystem' stores under a fresh temporary directory; 'inmemory' keeps nothing. */
  readonly storage?: 'filesystem' | 'inmemory';
  /** Extra REGISTRY_* variables, e.g. { REGISTRY_STORAGE_DELETE_ENABLED: 'false' }. */
  readonly env?: Record<string, string>;
  /**
   * Filesystem storage only: use this existing data directory (e.g. the one of a stopped registry,
   * to test a restart). A directory passed in is not removed by stop(); remove it yourself.
   */
  readonly dataDir?: string;
  /** When true, stop() leaves a fresh temporary data directory in place (for a restart test). */
  readonly keepData?: boolean;
}

export async function startTestRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const storage = options.storage ?? 'filesystem';
  const owned = storage === 'filesystem' && options.dataDir === undefined && options.keepData !== true;
  const dataDir = storage === 'filesystem' ? (options.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-test-'))) : undefined;
  const env: Record<string, string> = {
    REGISTRY_HTTP_ADDR: '127.0.0.1:0',
    REGISTRY_STORAGE_DELETE_ENABLED: 'true',
    REGISTRY_LOG_ACCESSLOG_DISABLED: 'true',
    ...(dataDir === undefined ? { REGISTRY_STORAGE_INMEMORY: '{}' } : { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dataDir }),
    ...options.env,
  };
  const app = createApp(loadConfig(undefined, env), pino({ level: 'silent' }));
  const address = await app.listen();
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    dataDir,
    stop: async () => {
      await app.close();
      if (owned && dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
