// Starting and stopping the two registries with equivalent settings.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const BERTH_MAIN = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
/** Berth's node flags, as `npm start` and the `berth` bin's shebang give them (package.json, src/cli/main.ts). */
export const BERTH_NODE_FLAGS = ['--max-semi-space-size=8', '--initial-old-space-size=48'];

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Same settings for all: filesystem storage in a fresh dir (or `backend.storage`, the driver's lines
 * under `storage:`, e.g. S3), deletes on, quiet logs, loopback; `backend.database`: Berth's
 * `database:` lines (PostgreSQL metadata).
 */
export function configYaml(kind, dataDir, port, extra = '', workers = undefined, backend = {}) {
  const common = [
    'version: 0.1',
    // Before `http:`, which stays last: extra lines (the metrics-cost section's `  debug:`) go under it.
    ...(kind === 'berth' ? (backend.database ?? []) : []),
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...(backend.storage ?? ['  filesystem:', `    rootdirectory: ${dataDir}`]),
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    // Berth's http.workers when the bench asks for a count (--berth-workers); else its default, the CPUs.
    ...(kind === 'berth' && workers !== undefined ? [`  workers: ${workers}`] : []),
  ];
  if (kind !== 'berth') common.push('health:', '  storagedriver:', '    enabled: false');
  return `${common.join('\n')}\n${extra}`;
}

export function ensureReference() {
  if (spawnSync('sh', ['-c', 'command -v docker-registry'], { stdio: 'ignore' }).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error('docker-registry is not installed and this is not root: apt-get install docker-registry');
  console.error('# installing docker-registry from Debian (apt-get install -y docker-registry)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'docker-registry'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'docker-registry'], { stdio: 'inherit', env });
  }
  if (r.status !== 0) throw new Error('apt-get install docker-registry failed');
  // Debian's package starts a system service on :5000; it is not ours and stays as it is.
}

export function referenceVersion() {
  const r = spawnSync('docker-registry', ['--version'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim();
}

/**
 * The second reference: CNCF Distribution v3.x, built outside the repo (bench/README.md says how).
 * Its path comes from `--v3 PATH` or BERTH_BENCH_DISTRIBUTION_V3; null when neither names a binary.
 */
export function v3Binary(option) {
  const p = option ?? process.env.BERTH_BENCH_DISTRIBUTION_V3 ?? '';
  if (!p) return { path: null, why: 'neither --v3 PATH nor BERTH_BENCH_DISTRIBUTION_V3 is set' };
  if (!fs.existsSync(p)) return { path: null, why: `${p} does not exist` };
  return { path: path.resolve(p), why: null };
}

export function v3Version(binary) {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim();
}

function getStatus(port, p) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

/**
 * Spawns a registry and polls GET /v2/ every 5 ms; resolves when it answers 200.
 * startup_ms is the time from spawn to that first 200.
 */
export async function startServer(kind, dir, { extraConfig = '', timeoutMs = 60_000, v3 = null, workers = undefined, backend = {} } = {}) {
  const port = await freePort();
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(dir, 'config.yml');
  fs.writeFileSync(configFile, configYaml(kind, dataDir, port, extraConfig, workers, backend));
  const logFile = path.join(dir, 'server.log');
  const logFd = fs.openSync(logFile, 'a');
  const [cmd, args] =
    kind === 'reference'
      ? ['docker-registry', ['serve', configFile]]
      : kind === 'v3'
        ? [v3, ['serve', configFile]]
        : [process.execPath, [...BERTH_NODE_FLAGS, BERTH_MAIN, 'serve', configFile]];
  if (!cmd) throw new Error(`${kind}: no binary`);
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('REGISTRY_') || k.startsWith('OTEL_')) delete env[k];
  // v3 exports traces over OTLP by default and would retry against a collector that is not there.
  if (kind === 'v3') env.OTEL_TRACES_EXPORTER = 'none';
  // `berth serve` refuses an unmigrated PostgreSQL schema: migrate first, as an operator would.
  if (kind === 'berth' && backend.database) {
    const m = spawnSync(process.execPath, [BERTH_MAIN, 'database', 'migrate', 'up', configFile], { encoding: 'utf8', env });
    if (m.status !== 0) throw new Error(`berth database migrate up failed: ${m.stderr || m.stdout}`);
  }
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { stdio: ['ignore', logFd, logFd], env });
  fs.closeSync(logFd);
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  for (;;) {
    if (exited) throw new Error(`${kind} exited during start-up (${JSON.stringify(exited)}); log ${logFile}:\n${tail(logFile)}`);
    const status = await getStatus(port, '/v2/');
    if (status === 200) break;
    if (Number(process.hrtime.bigint() - t0) / 1e6 > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${kind} did not answer 200 on /v2/ within ${timeoutMs} ms; log ${logFile}:\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return {
    kind,
    port,
    base: `http://127.0.0.1:${port}`,
    pid: child.pid,
    child,
    dir,
    dataDir,
    logFile,
    startupMs,
    exited: () => exited,
    stop: () => stopChild(child),
  };
}

export function tail(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
export function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
