// Loads the configuration: YAML file (optional) → REGISTRY_* environment overrides → defaults.
// Any unknown or invalid key stops start-up with a ConfigError that names the key.
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { AuthConfig, Config, PolicyAction, PolicyRule, S3StorageConfig } from './config.js';
import { parseDuration } from './duration.js';
import { parseLifecycle } from './lifecycle.js';
import { parseNotifications } from './notifications.js';
import { parseProxy } from './proxy.js';
import { unknownVariables } from './environment.js';
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
  const refused = unknownVariables(env).find((entry) => entry.refuse);
  if (refused !== undefined) throw new ConfigError(refused.message);
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

  const { host, port } = parseAddress(get<string>('http.addr'), 'http.addr');
  const debugAddr = get<string | undefined>('http.debug.addr');
  const debug = debugAddr === undefined || debugAddr === '' ? undefined : parseAddress(debugAddr, 'http.debug.addr');
  const metricsPath = get<string>('http.debug.prometheus.path');
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(metricsPath)) throw new ConfigError('must be a path such as /metrics', 'http.debug.prometheus.path');
  if (debug === undefined && (metricsPath === '/v2' || metricsPath.startsWith('/v2/') || metricsPath.startsWith('/auth/') || metricsPath === '/healthz' || metricsPath === '/readyz' || metricsPath === '/usage' || metricsPath.startsWith('/usage/'))) {
    throw new ConfigError('collides with a path the registry serves on the main address', 'http.debug.prometheus.path');
  }
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
  const s3 = assembleS3(get, has, inMemory);
  const headers: Record<string, string[]> = {};
  for (const [name, entry] of Object.entries(get<Record<string, unknown>>('http.headers'))) {
    headers[name] = Array.isArray(entry) ? entry.map(String) : [String(entry)];
  }
  const baseUrl = get<string | undefined>('http.host');
  if (baseUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(baseUrl)) throw new ConfigError('must be a URL such as https://registry.example.com', 'http.host');

  // With a database (several instances), the token signing key lives there unless a keyfile is named.
  const auth = assembleAuth(get, has, inMemory || get<boolean>('database.enabled'), rootDirectory);
  if (get<boolean>('http.debug.prometheus.auth') && auth === undefined) throw new ConfigError('needs an authentication method (auth.*)', 'http.debug.prometheus.auth');
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
      relativeUrls: get<boolean>('http.relativeurls'),
      drainTimeoutMs: get('http.draintimeout'),
      drainDelayMs: get('http.draindelay'),
      workers: workerCount(get<number | undefined>('http.workers'), inMemory),
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
      debug,
    },
    ui: { enabled: get<boolean>('ui.enabled'), path: uiPath(get<string>('ui.path'), debug === undefined && get<boolean>('http.debug.prometheus.enabled') ? metricsPath : undefined) },
    metrics: get<boolean>('http.debug.prometheus.enabled') ? { path: metricsPath, auth: get<boolean>('http.debug.prometheus.auth') } : undefined,
    storage: {
      driver: s3 ?? (inMemory ? { kind: 'inmemory' } : { kind: 'filesystem', rootDirectory }),
      redirectDisabled: get('storage.redirect.disable'),
      deleteEnabled: get('storage.delete.enabled'),
      readOnly: get('storage.maintenance.readonly.enabled'),
      automaticMount: get('storage.mount.automatic'),
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
    database: get<boolean>('database.enabled')
      ? {
          host: get('database.host'),
          port: get('database.port'),
          user: get('database.user'),
          password: get('database.password'),
          dbname: get('database.dbname'),
          sslmode: get('database.sslmode'),
          sslcert: get('database.sslcert'),
          sslkey: get('database.sslkey'),
          sslrootcert: get('database.sslrootcert'),
          connectTimeoutMs: get('database.connecttimeout'),
          pool: { maxOpen: get('database.pool.maxopen'), maxIdle: get('database.pool.maxidle'), maxLifetimeMs: get('database.pool.maxlifetime') },
        }
      : undefined,
    lifecycle: parseLifecycle(get, (message, key) => {
      throw new ConfigError(message, key);
    }),
    gc: {
      enabled: get('gc.enabled'),
      reviewDelayMs: get('gc.reviewdelay'),
      intervalMs: get('gc.interval'),
      sweepOrphans: get('gc.orphans'),
    },
    health: {
      storageDriver: {
        enabled: get('health.storagedriver.enabled'),
        intervalMs: positive(get<number>('health.storagedriver.interval'), 'health.storagedriver.interval'),
        threshold: Math.max(1, get<number>('health.storagedriver.threshold')),
      },
    },
    limits: {
      manifestMaxBytes: get('validation.manifests.maxsize'),
      catalogDefault: get('catalog.maxentries'),
      maxPage: get('pagination.maxentries'),
    },
    notifications: parseNotifications(get, (message, key) => {
      throw new ConfigError(message, key);
    }),
    auth,
    proxy: parseProxy(get, (message, key) => {
      throw new ConfigError(message, key);
    }),
  };
}


const ACTIONS: readonly PolicyAction[] = ['pull', 'push', 'delete'];
const GLOB = /^[a-z0-9._\-*/]+$/;
const SAFE_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

/** storage.s3.*: undefined unless some storage.s3 key is set; then region and bucket are required. */
function assembleS3(get: <T>(path: string) => T, has: (path: string) => boolean, inMemory: boolean): S3StorageConfig | undefined {
  const given = ['accesskey', 'secretkey', 'region', 'regionendpoint', 'bucket'].some((name) => has(`storage.s3.${name}`));
  if (!given) return undefined;
  if (inMemory) throw new ConfigError('choose one storage driver: s3 or inmemory', 'storage.inmemory');
  const required = (name: string): string => {
    const value = get<string | undefined>(`storage.s3.${name}`);
    if (value === undefined || value === '') throw new ConfigError('is required with storage.s3', `storage.s3.${name}`);
    return value;
  };
  const accessKey = get<string | undefined>('storage.s3.accesskey');
  const secretKey = get<string | undefined>('storage.s3.secretkey');
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new ConfigError('storage.s3.accesskey and storage.s3.secretkey go together', accessKey === undefined ? 'storage.s3.accesskey' : 'storage.s3.secretkey');
  }
  const positive = (name: string, minimum: number): number => {
    const value = get<number>(`storage.s3.${name}`);
    if (!Number.isInteger(value) || value < minimum) throw new ConfigError(`must be an integer of at least ${minimum}`, `storage.s3.${name}`);
    return value;
  };
  const storageClass = get<string>('storage.s3.storageclass');
  return {
    kind: 's3',
    accessKey,
    secretKey,
    region: required('region'),
    regionEndpoint: get<string | undefined>('storage.s3.regionendpoint'),
    forcePathStyle: get('storage.s3.forcepathstyle'),
    bucket: required('bucket'),
    rootDirectory: get<string>('storage.s3.rootdirectory').replace(/^\/+|\/+$/g, ''),
    encrypt: get('storage.s3.encrypt'),
    keyId: get<string | undefined>('storage.s3.keyid'),
    secure: get('storage.s3.secure'),
    skipVerify: get('storage.s3.skipverify'),
    chunkSize: positive('chunksize', 5 * 1024 * 1024),
    multipartCopyChunkSize: positive('multipartcopychunksize', 5 * 1024 * 1024),
    multipartCopyMaxConcurrency: positive('multipartcopymaxconcurrency', 1),
    multipartCopyThresholdSize: positive('multipartcopythresholdsize', 0),
    storageClass: storageClass === 'NONE' || storageClass === '' ? undefined : storageClass,
  };
}

/** `noDefaultKeyFile`: storage.inmemory (the key in memory) or a database (the key in it). */
function assembleAuth(get: <T>(path: string) => T, has: (path: string) => boolean, noDefaultKeyFile: boolean, rootDirectory: string): AuthConfig | undefined {
  const htpasswdPath = get<string | undefined>('auth.htpasswd.path');
  const serviceEnabled = get<boolean>('auth.tokenservice.enabled');
  const realm = get<string | undefined>('auth.token.realm');
  if (htpasswdPath === undefined && !serviceEnabled && realm === undefined) {
    for (const path of ['auth.policies', 'auth.admins', 'auth.groups']) {
      if (has(path)) throw new ConfigError('needs an authentication method (auth.htpasswd.path, auth.token.realm or auth.tokenservice.enabled)', path);
    }
    return undefined;
  }
  if (serviceEnabled && htpasswdPath === undefined) throw new ConfigError('the built-in token service takes its users from auth.htpasswd.path', 'auth.tokenservice.enabled');
  const rootCertBundle = get<string | undefined>('auth.token.rootcertbundle');
  const jwks = get<string | undefined>('auth.token.jwks');
  const tokenMode = serviceEnabled || realm !== undefined;
  if (realm !== undefined && !serviceEnabled && rootCertBundle === undefined && jwks === undefined) {
    throw new ConfigError('an external token server needs auth.token.rootcertbundle or auth.token.jwks', 'auth.token.realm');
  }
  if (realm !== undefined && !/^https?:\/\//.test(realm)) throw new ConfigError('must be an absolute http(s) URL', 'auth.token.realm');
  const service = get<string | undefined>('auth.token.service') ?? (serviceEnabled ? 'berth' : undefined);
  const issuer = get<string | undefined>('auth.token.issuer') ?? (serviceEnabled ? 'berth' : undefined);
  if (tokenMode && service === undefined) throw new ConfigError('required with auth.token.realm', 'auth.token.service');
  if (tokenMode && issuer === undefined) throw new ConfigError('required with auth.token.realm', 'auth.token.issuer');
  const algorithms = get<string[]>('auth.token.signingalgorithms');
  for (const alg of algorithms) {
    if (!SAFE_ALGORITHMS.has(alg)) throw new ConfigError(`${alg} is not accepted (one of ${[...SAFE_ALGORITHMS].join(', ')})`, 'auth.token.signingalgorithms');
  }
  const groups: Record<string, string[]> = {};
  for (const [name, members] of Object.entries(get<Record<string, unknown>>('auth.groups'))) {
    if (!Array.isArray(members) || !members.every((m) => typeof m === 'string')) throw new ConfigError(`group ${name} must be a list of user names`, 'auth.groups');
    groups[name] = members;
  }
  return {
    mode: tokenMode ? 'token' : 'basic',
    htpasswd: htpasswdPath === undefined ? undefined : { realm: get('auth.htpasswd.realm'), path: resolve(htpasswdPath) },
    token: tokenMode
      ? { realm, service: service as string, issuer: issuer as string, rootCertBundle, jwks, algorithms, leewayMs: get('auth.token.leeway') }
      : undefined,
    tokenService: serviceEnabled
      ? {
          keyFile: get<string | undefined>('auth.tokenservice.keyfile') ?? (noDefaultKeyFile ? undefined : join(rootDirectory, 'auth', 'token-key.pem')),
          kidFormat: get('auth.tokenservice.kidformat'),
          expirationMs: get('auth.tokenservice.expiration'),
          refreshExpirationMs: get('auth.tokenservice.refreshexpiration'),
        }
      : undefined,
    admins: get('auth.admins'),
    groups,
    policies: has('auth.policies') ? parsePolicies(get('auth.policies'), groups) : undefined,
    rateLimit: { attempts: get('auth.ratelimit.attempts'), windowMs: get('auth.ratelimit.window'), delayMs: get('auth.ratelimit.delay') },
  };
}

function parsePolicies(value: unknown, groups: Record<string, string[]>): PolicyRule[] {
  if (!Array.isArray(value)) throw new ConfigError('expected a list of policies', 'auth.policies');
  return value.map((entry: unknown, index) => {
    const key = `auth.policies[${index}]`;
    if (!isPlainObject(entry)) throw new ConfigError('must be a mapping', key);
    for (const field of Object.keys(entry)) {
      if (!['repositories', 'users', 'groups', 'anonymous', 'actions'].includes(field)) throw new ConfigError(`unknown field ${field}`, key);
    }
    const list = (field: string): string[] => {
      const v = entry[field] ?? [];
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new ConfigError(`${field} must be a list of strings`, key);
      return v;
    };
    const repositories = list('repositories');
    if (repositories.length === 0) throw new ConfigError('repositories must name at least one glob', key);
    for (const glob of repositories) if (!GLOB.test(glob)) throw new ConfigError(`repository glob ${JSON.stringify(glob)} may hold only a-z 0-9 . _ - / and *`, key);
    const actions = list('actions');
    for (const action of actions) if (!ACTIONS.includes(action as PolicyAction)) throw new ConfigError(`action ${action} is not one of pull, push, delete`, key);
    const groupNames = list('groups');
    for (const group of groupNames) if (groups[group] === undefined) throw new ConfigError(`group ${group} is not defined in auth.groups`, key);
    const anonymous = entry.anonymous ?? false;
    if (typeof anonymous !== 'boolean') throw new ConfigError('anonymous must be true or false', key);
    return { repositories, users: list('users'), groups: groupNames, anonymous, actions: actions as PolicyAction[] };
  });
}

function parseAddress(addr: string, key: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) throw new ConfigError('must be host:port or :port', key);
  return { host: match[1] ?? (match[2] === '' || match[2] === undefined ? '0.0.0.0' : match[2]), port };
}

function positive(ms: number, key: string): number {
  if (!(ms > 0)) throw new ConfigError('must be longer than 0s', key);
  return ms;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** http.workers: explicit (at least 1; 1 only in memory), else the CPUs (1 in memory). */
export function workerCount(asked: number | undefined, inMemory: boolean): number {
  if (asked === undefined) return inMemory ? 1 : Math.max(1, availableParallelism());
  if (asked < 1) throw new ConfigError('must be at least 1', 'http.workers');
  if (inMemory && asked > 1) throw new ConfigError('storage.inmemory keeps its data in one process: use 1', 'http.workers');
  return asked;
}

/** ui.path: an absolute path ending in `/` that shadows nothing the main address serves. */
function uiPath(path: string, metricsPath: string | undefined): string {
  if (!/^\/([A-Za-z0-9._~-]+\/)*$/.test(path)) throw new ConfigError('must be a path ending in / such as /ui/', 'ui.path');
  const taken = ['/v2/', '/auth/', '/usage/', '/healthz/', '/readyz/', ...(metricsPath === undefined ? [] : [`${metricsPath.replace(/\/$/, '')}/`])];
  if (path === '/' || taken.some((other) => other.startsWith(path) || path.startsWith(other))) throw new ConfigError('collides with a path the registry serves on the main address', 'ui.path');
  return path;
}
