// The registry under test: Berth (default) or the reference docker-registry 2.8.2
// (E2E_REGISTRY=reference; E2E_REFERENCE_BIN names another distribution binary), on a free loopback
// port with a fresh data dir.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import path from 'node:path';
import { spawnDaemon, type Daemon } from './daemon.js';
import { waitFor } from './exec.js';
import { repoRoot } from './paths.js';

export type RegistryKind = 'berth' | 'reference';

export interface Registry {
  kind: RegistryKind;
  /** `127.0.0.1:PORT`, the form clients take in image references. */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  dataDir: string;
  daemon: Daemon;
  stop(): Promise<void>;
}

export function registryKind(): RegistryKind {
  const v = process.env.E2E_REGISTRY ?? 'berth';
  if (v !== 'berth' && v !== 'reference') throw new Error(`E2E_REGISTRY must be berth or reference, not ${v}`);
  return v;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function isReady(url: string, options: RegistryOptions): Promise<boolean> {
  try {
    if (options.tls !== undefined) return await isReadyTls(url, options.tls.ca);
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    // With access control on, `GET /v2/` answers 401 with a challenge.
    return (res.status === 200 || (options.auth !== undefined && res.status === 401)) && res.headers.get('docker-distribution-api-version') === 'registry/2.0';
  } catch {
    return false;
  }
}

function isReadyTls(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsGet(`${url}/v2/`, { ca: readFileSync(ca), timeout: 2000, agent: false }, (res) => {
      res.resume();
      resolve((res.statusCode === 200 || res.statusCode === 401) && res.headers['docker-distribution-api-version'] === 'registry/2.0');
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

export interface RegistryOptions {
  /** YAML of the `auth:` mapping (e.g. `{ htpasswd: { realm: x, path: /p } }`). */
  readonly auth?: string;
  /** Serve HTTPS with this certificate and key; `ca` is the CA file the readiness probe trusts. */
  readonly tls?: { readonly certificate: string; readonly key: string; readonly ca: string };
  /** YAML of the storage driver's mapping instead of the filesystem in the data dir (e.g. `s3: { bucket: b, ... }`). */
  readonly storage?: string;
  /** More top-level YAML lines of the configuration (e.g. `proxy: { remoteurl: … }`, `metadata: { sqlite: { path: /x } }`). */
  readonly extra?: readonly string[];
}

/** Starts a registry in `workDir/registry` and waits until `GET /v2/` answers 200 (401 with auth). */
export async function startRegistry(workDir: string, kind: RegistryKind = registryKind(), options: RegistryOptions = {}): Promise<Registry> {
  const dir = path.join(workDir, 'registry');
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `${options.tls === undefined ? 'http' : 'https'}://${host}`;
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: warn }',
      options.tls === undefined ? `http: { addr: ${host} }` : `http: { addr: ${host}, tls: { certificate: ${options.tls.certificate}, key: ${options.tls.key} } }`,
      `storage: { ${options.storage ?? `filesystem: { rootdirectory: ${dataDir} }`}, delete: { enabled: true } }`,
      ...(options.auth === undefined ? [] : [`auth: ${options.auth}`]),
      ...(options.extra ?? []),
      '',
    ].join('\n'),
  );
  // The config file is the whole configuration: no REGISTRY_* override from the caller's env.
  // 2.8.2's s3 driver panics at start when AWS_CA_BUNDLE is set (aws-sdk-go cannot load a CA bundle
  // into distribution's own HTTP transport: LoadCustomCABundleError); the test endpoints are plain HTTP.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_') && !(kind === 'reference' && k === 'AWS_CA_BUNDLE')));
  let daemon: Daemon;
  if (kind === 'berth') {
    const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    if (!existsSync(main)) throw new Error(`Berth is not built (${main} missing): run npm run build, or set E2E_REGISTRY=reference`);
    daemon = spawnDaemon('berth', process.execPath, [main, 'serve', config], path.join(dir, 'registry.log'), env);
  } else {
    // E2E_REFERENCE_BIN: another distribution binary as the reference (e.g. v3.0.0 in one's own runs; set OTEL_TRACES_EXPORTER=none for it).
    daemon = spawnDaemon('docker-registry', process.env.E2E_REFERENCE_BIN ?? 'docker-registry', ['serve', config], path.join(dir, 'registry.log'), env);
  }
  try {
    await waitFor(
      `${kind} registry on ${url}`,
      async () => {
        if (daemon.exited()) throw new Error(`${kind} registry exited early:\n${daemon.logTail()}`);
        return isReady(url, options);
      },
      30_000,
    );
  } catch (e) {
    await daemon.stop(2000);
    throw e;
  }
  return { kind, host, url, dataDir, daemon, stop: () => stopAndCheck(kind, daemon) };
}

const STOP_GRACE_MS = 10_000;

/** What the log holds besides JSON lines (a stack trace on stderr, say), for the failure's message. */
function textLines(logFile: string): string {
  const text = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('{'))
    .slice(-40);
  return text.length === 0 ? '' : `\nother output:\n${text.join('\n')}`;
}

/**
 * Stops the registry and holds it to its contract: it exits on SIGTERM, and (Berth) it logged
 * no error-level line, since every error it logs at that level is a 500 it sent.
 */
async function stopAndCheck(kind: RegistryKind, daemon: Daemon): Promise<void> {
  const graceful = await daemon.stop(STOP_GRACE_MS);
  const problems: string[] = [];
  if (!graceful) problems.push(`${kind} registry did not exit within ${STOP_GRACE_MS} ms of SIGTERM (killed)`);
  if (kind === 'berth') {
    const errors = readFileSync(daemon.logFile, 'utf8')
      .split('\n')
      .filter((line) => {
        try {
          const level = (JSON.parse(line) as { level?: unknown }).level;
          return typeof level === 'number' && level >= 50;
        } catch {
          return false;
        }
      });
    if (errors.length > 0) problems.push(`berth logged ${errors.length} error line(s):\n${errors.slice(0, 5).join('\n')}${textLines(daemon.logFile)}`);
  }
  if (problems.length > 0) throw new Error(`${problems.join('\n')}\nlog: ${daemon.logFile}`);
}
