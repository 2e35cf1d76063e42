// Loads the configuration: YAML file (optional) → REGISTRY_* environment overrides → defaults.
// Any unknown or invalid key stops start-up with a ConfigError that names the key.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Config } from './config.js';
import { parseDuration } from './duration.js';
import { envName, KEYS, type KeySpec, type KeyType } from './keys.js';

export class ConfigError extends Error {
  readonly key: string | undefined;
  constructor(message: string, key?: string) {
    super(key === undefined ? message : `configuration key ${key}: ${message}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

const BY_PATH = new Map(KEYS.map((spec) => [spec.path, spec]));
const PREFIXES = new Set(KEYS.flatMap((spec) => spec.path.split('.').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('.'))));

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  const values = new Map<string, unknown>();
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
    }
    let document: unknown;
    try {
      document = parseYaml(text);
    } catch (error) {
      throw new ConfigError(`${file} is not valid YAML: ${(error as Error).message}`);
    }
    if (document !== null && document !== undefined) {
      if (!isPlainObject(document)) throw new ConfigError(`${file} must hold a mapping of keys`);
      flatten(document, '', values);
    }
  }
  for (const spec of KEYS) {
    const raw = env[envName(spec.path)];
    if (raw !== undefined) values.set(spec.path, fromEnv(spec, raw));
  }
  for (const [path, value] of values) values.set(path, check(BY_PATH.get(path) as KeySpec, value));
  return assemble(values);
}

function flatten(node: Record<string, unknown>, prefix: string, into: Map<string, unknown>): void {
  for (const [name, value] of Object.entries(node)) {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    const spec = BY_PATH.get(path);
    if (spec !== undefined) {
      into.set(path, value);
    } else if (PREFIXES.has(path)) {
      if (value === null || value === undefined) continue;
      if (!isPlainObject(value)) throw new ConfigError('must be a mapping', path);
      flatten(value, path, into);
    } else {
      throw new ConfigError('unknown key', path);
    }
  }
}

function fromEnv(spec: KeySpec, raw: string): unknown {
  switch (spec.type) {
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'integer':
      return /^-?\d+$/.test(raw) ? Number(raw) : raw;
    case 'strings':
      return raw === '' ? [] : raw.split(',');
    case 'map':
    case 'any':
      try {
        return parseYaml(raw) as unknown;
      } catch {
        return raw;
      }
    default:
      return raw;
  }
}

function check(spec: KeySpec, value: unknown): unknown {
  const type: KeyType = spec.type;
  const fail = (expected: string): never => {
    throw new ConfigError(`expected ${expected}, got ${JSON.stringify(value)} (environment: ${envName(spec.path)})`, spec.path);
  };
  if (typeof type === 'object') {
    return typeof value === 'string' && type.oneOf.includes(value) ? value : fail(`one of ${type.oneOf.join(', ')}`);
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' || typeof value === 'number' ? String(value) : fail('a string');
    case 'boolean':
      return typeof value === 'boolean' ? value : fail('true or false');
    case 'integer':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? value : fail('a non-negative integer');
    case 'duration': {
      if (typeof value === 'number' && value >= 0) return value / 1e6;
      const ms = typeof value === 'string' ? parseDuration(value) : undefined;
      return ms ?? fail('a duration such as 30s, 10m or 24h');
    }
    case 'strings':
      return Array.isArray(value) && value.every((entry) => typeof entry === 'string') ? value : fail('a list of strings');
    case 'map':
      return value === null || isPlainObject(value) ? (value ?? {}) : fail('a mapping');
    case 'any':
      return value;
  }
}

function assemble(values: Map<string, unknown>): Config {
  const get = <T>(path: string): T => {
    if (values.has(path)) return values.get(path) as T;
    return BY_PATH.get(path)?.default as T;
  };
  const has = (path: string): boolean => values.has(path);

  const version = get<string>('version');
  if (version !== '0.1') throw new ConfigError('only version 0.1 is known', 'version');
  const prefix = get<string | undefined>('http.prefix');
  if (prefix !== undefined && prefix !== '/' && prefix !== '') throw new ConfigError('serving below a prefix is not supported', 'http.prefix');

  const { host, port } = parseAddress(get<string>('http.addr'));
  const certificate = get<string | undefined>('http.tls.certificate');
  const key = get<string | undefined>('http.tls.key');
  if ((certificate === undefined) !== (key === undefined)) {
    throw new ConfigError('http.tls.certificate and http.tls.key go together', certificate === undefined ? 'http.tls.certificate' : 'http.tls.key');
  }
  const inMemory = has('storage.inmemory');
  if (inMemory && has('storage.filesystem.rootdirectory')) {
    throw new ConfigError('choose one storage driver: filesystem or inmemory', 'storage.inmemory');
  }
  const rootDirectory = resolve(get<string>('storage.filesystem.rootdirectory'));
  const headers: Record<string, string[]> = {};
  for (const [name, entry] of Object.entries(get<Record<string, unknown>>('http.headers'))) {
    headers[name] = Array.isArray(entry) ? entry.map(String) : [String(entry)];
  }
  const baseUrl = get<string | undefined>('http.host');
  if (baseUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(baseUrl)) throw new ConfigError('must be a URL such as https://registry.example.com', 'http.host');

  return {
    log: {
      level: get('log.level'),
      fields: get('log.fields'),
      accessLog: !get<boolean>('log.accesslog.disabled'),
    },
    http: {
      host,
      port,
      baseUrl: baseUrl?.replace(/\/$/, ''),
      drainTimeoutMs: get('http.draintimeout'),
      headers,
      tls:
        certificate !== undefined && key !== undefined
          ? {
              certificate,
              key,
              clientCas: get('http.tls.clientcas'),
              minVersion: get<string>('http.tls.minimumtls') === 'tls1.3' ? 'TLSv1.3' : 'TLSv1.2',
            }
          : undefined,
    },
    storage: {
      driver: inMemory ? { kind: 'inmemory' } : { kind: 'filesystem', rootDirectory },
      deleteEnabled: get('storage.delete.enabled'),
      readOnly: get('storage.maintenance.readonly.enabled'),
      uploadPurging: {
        enabled: get('storage.maintenance.uploadpurging.enabled'),
        ageMs: get('storage.maintenance.uploadpurging.age'),
        intervalMs: get('storage.maintenance.uploadpurging.interval'),
        dryRun: get('storage.maintenance.uploadpurging.dryrun'),
      },
    },
    metadata: {
      sqlitePath: get<string | undefined>('metadata.sqlite.path') ?? (inMemory ? ':memory:' : join(rootDirectory, 'metadata.sqlite')),
      synchronous: get('metadata.sqlite.synchronous'),
    },
    limits: {
      manifestMaxBytes: get('validation.manifests.maxsize'),
      catalogDefault: get('catalog.maxentries'),
      maxPage: get('pagination.maxentries'),
    },
  };
}

function parseAddress(addr: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) throw new ConfigError('must be host:port or :port', 'http.addr');
  return { host: match[1] ?? (match[2] === '' || match[2] === undefined ? '0.0.0.0' : match[2]), port };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
