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
  { path: 'http.workers', type: 'integer', description: 'Processes serving the one port (node:cluster, supervised: a worker that dies is restarted; SIGTERM drains them all). Unset: the number of CPUs (`os.availableParallelism()`), or 1 with `storage.inmemory`, whose data lives in one process (more is refused). `berth serve --workers N` overrides it. What the workers share and how: docs/scale-out.md.' },
  { path: 'http.draindelay', type: 'duration', default: 0, description: 'On SIGTERM, how long `/readyz` answers 503 while the registry still serves everything else, before it stops accepting and drains (`http.draintimeout`): time for a load balancer to stop sending. SIGINT skips it.' },
  { path: 'http.headers', type: 'map', default: {}, description: 'Extra headers added to every response (`name: [values]`).' },
  { path: 'http.tls.certificate', type: 'string', description: 'PEM certificate (chain) file; serving HTTPS when set with `http.tls.key`.' },
  { path: 'http.tls.key', type: 'string', description: 'PEM private key file.' },
  { path: 'http.tls.clientcas', type: 'strings', default: [], description: 'PEM CA files for client-certificate authentication: without `auth.*` every client must present a certificate they signed (the TLS handshake fails otherwise); with `auth.*` a verified certificate is one more way to log in, as the user named by its subject CN.' },
  { path: 'http.tls.minimumtls', type: { oneOf: ['tls1.2', 'tls1.3'] }, default: 'tls1.2', description: 'Lowest TLS version accepted.' },
  { path: 'http.debug.addr', type: 'string', description: 'Address (`host:port` or `:port`) of a second, internal HTTP server for operators: Prometheus metrics, `/healthz` and `/readyz`, never behind access control. Unset: metrics are served on the main address (see `http.debug.prometheus.path`). Keep it off the public network.' },
  { path: 'http.debug.prometheus.enabled', type: 'boolean', default: true, description: 'Collect and serve Prometheus metrics (docs/operations.md). false: nothing is measured, and the request path carries no metrics work. Unlike distribution, on by default.' },
  { path: 'http.debug.prometheus.path', type: 'string', default: '/metrics', description: 'Path of the metrics, on `http.debug.addr` when it is set, else on the main address.' },
  { path: 'http.debug.prometheus.auth', type: 'boolean', default: false, description: 'On the main address, the metrics need credentials that may list the catalog (an admin, or a token with `registry:catalog:*`; needs `auth.*`). Never on `http.debug.addr`.' },
  { path: 'storage.filesystem.rootdirectory', type: 'string', default: './data', description: 'Directory for blob bytes, uploads and (by default) the SQLite metadata file.' },
  { path: 'storage.filesystem.maxthreads', type: 'integer', default: 100, description: 'Accepted for distribution files; not used.' },
  { path: 'storage.inmemory', type: 'map', description: 'Use the in-memory driver (tests only; nothing survives a restart).' },
  { path: 'storage.delete.enabled', type: 'boolean', default: false, description: 'Allows DELETE of manifests, tags and blobs (405 UNSUPPORTED otherwise).' },
  { path: 'storage.mount.automatic', type: 'boolean', default: true, description: 'A cross-repository mount without `from` links a blob the registry already holds (201); false answers with a normal upload (202). Always off with access control.' },
  { path: 'storage.maintenance.readonly.enabled', type: 'boolean', default: false, description: 'Refuses every write with 405 UNSUPPORTED; reads keep working.' },
  { path: 'storage.maintenance.uploadpurging.enabled', type: 'boolean', default: true, description: 'Periodically removes abandoned uploads.' },
  { path: 'storage.maintenance.uploadpurging.age', type: 'duration', default: 168 * 3600_000, description: 'Uploads older than this are purged.' },
  { path: 'storage.maintenance.uploadpurging.interval', type: 'duration', default: 24 * 3600_000, description: 'How often purging runs.' },
  { path: 'storage.maintenance.uploadpurging.dryrun', type: 'boolean', default: false, description: 'Log what purging would remove, remove nothing.' },
  { path: 'storage.cache.blobdescriptor', type: 'string', description: 'Accepted for distribution files and ignored: blob descriptors come from the metadata store.' },
  { path: 'storage.redirect.disable', type: 'boolean', default: true, description: 'Accepted for distribution files; the filesystem driver never redirects.' },
  { path: 'metadata.sqlite.path', type: 'string', description: 'SQLite metadata file; default `<rootdirectory>/metadata.sqlite` (or in memory with `storage.inmemory`).' },
  { path: 'metadata.sqlite.synchronous', type: { oneOf: ['FULL', 'NORMAL'] }, default: 'NORMAL', description: 'SQLite `synchronous` pragma (WAL mode). NORMAL: a killed process loses nothing committed, a power loss may lose the newest commits but never leaves a row without its bytes (blob bytes are fsynced first). FULL: commits also survive power loss, at one fsync per commit on the event loop.' },
  { path: 'gc.enabled', type: 'boolean', default: true, description: 'Run the online garbage collector in the server (docs/gc.md); `berth gc` runs it on demand either way.' },
  { path: 'gc.reviewdelay', type: 'duration', default: 24 * 3600_000, description: 'How long a blob or manifest must have gone without gaining or losing a reference before the collector may remove it; also the least age of orphaned bytes it sweeps.' },
  { path: 'gc.interval', type: 'duration', default: 3600_000, description: 'How often the server runs the collector.' },
  { path: 'gc.orphans', type: 'boolean', default: true, description: 'Each run also sweeps blob bytes that have no metadata row (a crash between storing and recording) once older than `gc.reviewdelay`.' },
  { path: 'lifecycle.immutable', type: 'any', description: 'Immutable tags: a list of `{repositories: [glob], tags: [regex]}`; a matching tag can be created but never moved to another manifest nor deleted (403 DENIED). See docs/lifecycle.md.' },
  { path: 'lifecycle.quotas', type: 'any', description: 'Storage quotas: a list of `{repositories: [glob], limit: size (e.g. 10GiB), per: repository|namespace}`; a push that would exceed one is refused with 403 DENIED. See docs/lifecycle.md for how shared blobs count.' },
  { path: 'lifecycle.untagged', type: 'any', description: 'Opt-in untagged-manifest policy: a list of `{repositories: [glob], olderthan: duration}`; the collector deletes manifests untagged for longer, never a child of a kept index nor a referrer of a kept subject. Default: untagged manifests are kept.' },
  { path: 'lifecycle.retention', type: 'any', description: 'Retention policies: a list of `{repositories: [glob], keeptags: [regex], keepnewest: N, keepyoungerthan: duration}`; tags none of the keep rules protect are deleted by each collector run (`berth gc --dry-run` shows which); referrers follow their subject.' },
  { path: 'validation.manifests.maxsize', type: 'integer', default: 4 * 1024 * 1024, description: 'Largest manifest body accepted, in bytes (413 beyond).' },
  { path: 'catalog.maxentries', type: 'integer', default: 1000, description: 'Catalog page size when the client sends no `n`.' },
  { path: 'pagination.maxentries', type: 'integer', default: 10000, description: 'Largest page of tags, catalog or referrers served whatever `n` asks.' },
  { path: 'health.storagedriver.enabled', type: 'boolean', default: false, description: 'Check the storage driver in the background every `interval`; `/readyz` then reports that check instead of calling storage itself, and fails after `threshold` consecutive failures (until a check succeeds). false: each `/readyz` checks storage as it answers.' },
  { path: 'health.storagedriver.interval', type: 'duration', default: 10_000, description: 'How often the background storage check runs (each check times out after this long, at most 5s).' },
  { path: 'health.storagedriver.threshold', type: 'integer', default: 3, description: 'Consecutive failed background checks that make `/readyz` fail (at least 1).' },
  { path: 'notifications.endpoints', type: 'any', description: 'Webhooks (distribution\'s): a list of `{name, url, headers: {Name: [values]}, timeout (1s), threshold (10), backoff (1s), ignoredmediatypes: [..], ignore: {mediatypes: [..], actions: [push, pull, delete, mount]}, disabled}`. Events are written to an outbox in the metadata store in the transaction of the change they report and delivered at least once, in order per repository, surviving restarts (docs/operations.md).' },
  { path: 'notifications.events.includereferences', type: 'boolean', default: false, description: 'Manifest push events carry `target.references`: the descriptors of the blobs and manifests the manifest references (pull events do not: a pull does not parse the manifest).' },
  { path: 'auth.htpasswd.realm', type: 'string', default: 'berth', description: 'Realm of the `WWW-Authenticate: Basic` challenge (access control: docs/auth.md).' },
  { path: 'auth.htpasswd.path', type: 'string', description: 'htpasswd file of users (bcrypt entries only, as `htpasswd -B` writes them); turns on Basic authentication, and is the user list of the built-in token service. Reloaded when it changes.' },
  { path: 'auth.token.realm', type: 'string', description: 'Token endpoint named in the `WWW-Authenticate: Bearer` challenge; turns on token authentication. Default with the built-in token service: `<origin>/auth/token`.' },
  { path: 'auth.token.service', type: 'string', description: 'Service name: the `service` of the challenge and the audience (`aud`) tokens must carry. Default with the built-in token service: `berth`.' },
  { path: 'auth.token.issuer', type: 'string', description: 'Issuer (`iss`) tokens must carry. Default with the built-in token service: `berth`.' },
  { path: 'auth.token.rootcertbundle', type: 'string', description: 'PEM file of certificates whose keys may sign tokens (an external token server).' },
  { path: 'auth.token.jwks', type: 'string', description: 'JWKS file of public keys that may sign tokens (an external token server).' },
  { path: 'auth.token.signingalgorithms', type: 'strings', default: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'], description: 'Signature algorithms accepted on tokens; `none` and HMAC are never accepted.' },
  { path: 'auth.token.leeway', type: 'duration', default: 60_000, description: 'Clock skew tolerated on `exp` and `nbf`.' },
  { path: 'auth.tokenservice.enabled', type: 'boolean', default: false, description: 'Serve the Docker token endpoint (`/auth/token`) and `/auth/jwks.json`, with users from `auth.htpasswd.path`, and require its tokens on `/v2/`.' },
  { path: 'auth.tokenservice.keyfile', type: 'string', description: 'PEM (PKCS#8) private key that signs tokens; generated (ES256) on first start when missing. Default `<rootdirectory>/auth/token-key.pem` (in memory with `storage.inmemory`).' },
  { path: 'auth.tokenservice.expiration', type: 'duration', default: 300_000, description: 'Lifetime of access tokens.' },
  { path: 'auth.tokenservice.refreshexpiration', type: 'duration', default: 30 * 24 * 3600_000, description: 'Lifetime of refresh tokens (`offline_token=true`, OAuth2 password grant with `access_type=offline`).' },
  { path: 'auth.admins', type: 'strings', default: [], description: 'Users who may do everything, and see the whole catalog.' },
  { path: 'auth.groups', type: 'map', default: {}, description: 'Groups of users for policies: `name: [user, …]`.' },
  { path: 'auth.policies', type: 'any', description: 'Who may pull, push and delete where: a list of `{repositories: [glob], users: [name or "*"], groups: [name], anonymous: bool, actions: [pull, push, delete]}`. Default: every authenticated user may do everything, anonymous callers nothing.' },
  { path: 'auth.ratelimit.attempts', type: 'integer', default: 10, description: 'Failed logins from one client address within `auth.ratelimit.window` before it gets 429 TOOMANYREQUESTS.' },
  { path: 'auth.ratelimit.window', type: 'duration', default: 60_000, description: 'Window over which failed logins are counted; also the longest `Retry-After`.' },
  { path: 'auth.ratelimit.delay', type: 'duration', default: 200, description: 'Added to every failed login, times the failures of the client in the window (capped at 2s).' },
];

/** Env var name for a key, as distribution derives it: REGISTRY_ + path in upper case joined by _. */
export function envName(path: string): string {
  return `REGISTRY_${path.toUpperCase().replaceAll('.', '_')}`;
}
