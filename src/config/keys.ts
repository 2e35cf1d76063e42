// Every configuration key Berth knows: its type, default and meaning. The loader validates files
// against it, maps REGISTRY_* environment variables onto it, and docs/configuration.md is checked
// against it by a test. Keys are distribution's wherever the concept is the same.

export type KeyType = 'string' | 'boolean' | 'integer' | 'duration' | 'strings' | 'map' | 'any' | { readonly oneOf: readonly string[] };

export interface KeySpec {
  readonly path: string;
  readonly type: KeyType;
  readonly default?: unknown;
  readonly description: string;
}

export const KEYS: readonly KeySpec[] = [
  { path: 'version', type: 'string', default: '0.1', description: 'Configuration format version; only 0.1 is known.' },
  { path: 'log.level', type: { oneOf: ['debug', 'info', 'warn', 'error'] }, default: 'info', description: 'Least severe level written.' },
  { path: 'log.formatter', type: { oneOf: ['json', 'text'] }, default: 'json', description: 'Log line format (JSON lines; `text` is accepted for distribution files and also writes JSON).' },
  { path: 'log.fields', type: 'map', default: {}, description: 'Fields added to every log line.' },
  { path: 'log.accesslog.disabled', type: 'boolean', default: false, description: 'Turns off the per-request access log line.' },
  { path: 'http.addr', type: 'string', default: ':5000', description: 'Listen address, `host:port` or `:port`.' },
  { path: 'http.net', type: { oneOf: ['tcp'] }, default: 'tcp', description: 'Listen network; only tcp.' },
  { path: 'http.host', type: 'string', description: 'External base URL used in Location headers (e.g. `https://registry.example.com`); relative paths when unset.' },
  { path: 'http.prefix', type: 'string', description: 'Accepted for distribution files; must be unset or `/`.' },
  { path: 'http.secret', type: 'string', description: 'Shared secret of a cluster of instances (reserved; upload state lives in the metadata store).' },
  { path: 'http.relativeurls', type: 'boolean', default: true, description: 'Location headers are relative paths unless `http.host` is set.' },
  { path: 'http.draintimeout', type: 'duration', default: 10_000, description: 'How long SIGTERM waits for in-flight requests before closing connections.' },
  { path: 'http.headers', type: 'map', default: {}, description: 'Extra headers added to every response (`name: [values]`).' },
  { path: 'http.tls.certificate', type: 'string', description: 'PEM certificate (chain) file; serving HTTPS when set with `http.tls.key`.' },
  { path: 'http.tls.key', type: 'string', description: 'PEM private key file.' },
  { path: 'http.tls.clientcas', type: 'strings', default: [], description: 'PEM CA files for client-certificate authentication.' },
  { path: 'http.tls.minimumtls', type: { oneOf: ['tls1.2', 'tls1.3'] }, default: 'tls1.2', description: 'Lowest TLS version accepted.' },
  { path: 'http.debug.addr', type: 'string', description: 'Accepted for distribution files; Berth serves /healthz and /metrics on the main address.' },
  { path: 'storage.filesystem.rootdirectory', type: 'string', default: './data', description: 'Directory for blob bytes, uploads and (by default) the SQLite metadata file.' },
  { path: 'storage.filesystem.maxthreads', type: 'integer', default: 100, description: 'Accepted for distribution files; not used.' },
  { path: 'storage.inmemory', type: 'map', description: 'Use the in-memory driver (tests only; nothing survives a restart).' },
  { path: 'storage.delete.enabled', type: 'boolean', default: false, description: 'Allows DELETE of manifests, tags and blobs (405 UNSUPPORTED otherwise).' },
  { path: 'storage.maintenance.readonly.enabled', type: 'boolean', default: false, description: 'Refuses every write with 405 UNSUPPORTED; reads keep working.' },
  { path: 'storage.maintenance.uploadpurging.enabled', type: 'boolean', default: true, description: 'Periodically removes abandoned uploads.' },
  { path: 'storage.maintenance.uploadpurging.age', type: 'duration', default: 168 * 3600_000, description: 'Uploads older than this are purged.' },
  { path: 'storage.maintenance.uploadpurging.interval', type: 'duration', default: 24 * 3600_000, description: 'How often purging runs.' },
  { path: 'storage.maintenance.uploadpurging.dryrun', type: 'boolean', default: false, description: 'Log what purging would remove, remove nothing.' },
  { path: 'storage.cache.blobdescriptor', type: 'string', description: 'Accepted for distribution files and ignored: blob descriptors come from the metadata store.' },
  { path: 'storage.redirect.disable', type: 'boolean', default: true, description: 'Accepted for distribution files; the filesystem driver never redirects.' },
  { path: 'metadata.sqlite.path', type: 'string', description: 'SQLite metadata file; default `<rootdirectory>/metadata.sqlite` (or in memory with `storage.inmemory`).' },
  { path: 'metadata.sqlite.synchronous', type: { oneOf: ['FULL', 'NORMAL'] }, default: 'NORMAL', description: 'SQLite `synchronous` pragma (WAL mode). NORMAL: a killed process loses nothing committed, a power loss may lose the newest commits but never leaves a row without its bytes (blob bytes are fsynced first). FULL: commits also survive power loss, at one fsync per commit on the event loop.' },
  { path: 'validation.manifests.maxsize', type: 'integer', default: 4 * 1024 * 1024, description: 'Largest manifest body accepted, in bytes (413 beyond).' },
  { path: 'catalog.maxentries', type: 'integer', default: 1000, description: 'Catalog page size when the client sends no `n`.' },
  { path: 'pagination.maxentries', type: 'integer', default: 10000, description: 'Largest page of tags, catalog or referrers served whatever `n` asks.' },
  { path: 'health.storagedriver.enabled', type: 'boolean', default: false, description: 'Accepted for distribution files; /healthz always checks storage and metadata.' },
  { path: 'health.storagedriver.interval', type: 'duration', default: 10_000, description: 'Accepted for distribution files.' },
  { path: 'health.storagedriver.threshold', type: 'integer', default: 3, description: 'Accepted for distribution files.' },
];

/** Env var name for a key, as distribution derives it: REGISTRY_ + path in upper case joined by _. */
export function envName(path: string): string {
  return `REGISTRY_${path.toUpperCase().replaceAll('.', '_')}`;
}
