// The typed configuration the rest of Berth reads, assembled from validated key values.
export interface Config {
  readonly log: { readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly fields: Record<string, unknown>; readonly accessLog: boolean };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly baseUrl: string | undefined;
    /** http.relativeurls: Location and Link headers are paths, not absolute URLs. */
    readonly relativeUrls: boolean;
    readonly drainTimeoutMs: number;
    /** On SIGTERM, /readyz answers 503 this long before the server stops accepting. */
    readonly drainDelayMs: number;
    /** Processes serving the port (http.workers; the CPUs when unset, 1 in memory). */
    readonly workers: number;
    readonly headers: Record<string, string[]>;
    readonly tls: { readonly certificate: string; readonly key: string; readonly clientCas: string[]; readonly minVersion: 'TLSv1.2' | 'TLSv1.3' } | undefined;
    /** The operators' server (http.debug.addr): metrics, /healthz, /readyz without access control. */
    readonly debug: { readonly host: string; readonly port: number } | undefined;
  };
  /** The web UI (ui.*): served at `path` when on. */
  readonly ui: { readonly enabled: boolean; readonly path: string };
  /** Prometheus metrics (http.debug.prometheus.*); undefined when off. */
  readonly metrics: { readonly path: string; readonly auth: boolean } | undefined;
  readonly storage: {
    readonly driver: { readonly kind: 'filesystem'; readonly rootDirectory: string } | { readonly kind: 'inmemory' } | S3StorageConfig;
    /** storage.redirect.disable: blob GETs stream through Berth instead of redirecting (drivers that can redirect). */
    readonly redirectDisabled: boolean;
    readonly deleteEnabled: boolean;
    readonly readOnly: boolean;
    readonly automaticMount: boolean;
    readonly uploadPurging: { readonly enabled: boolean; readonly ageMs: number; readonly intervalMs: number; readonly dryRun: boolean };
  };
  readonly metadata: { readonly sqlitePath: string; readonly synchronous: 'FULL' | 'NORMAL' };
  /** PostgreSQL metadata (database.*); undefined when database.enabled is false (SQLite). */
  readonly database: DatabaseConfig | undefined;
  /** Lifecycle rules: immutable tags, quotas, untagged-manifest and retention policies (docs/lifecycle.md). */
  readonly lifecycle: LifecycleConfig;
  /** Online garbage collection (docs/gc.md). */
  readonly gc: { readonly enabled: boolean; readonly reviewDelayMs: number; readonly intervalMs: number; readonly sweepOrphans: boolean };
  /** distribution's health.storagedriver: a periodic storage check that /readyz reports. */
  readonly health: { readonly storageDriver: { readonly enabled: boolean; readonly intervalMs: number; readonly threshold: number } };
  readonly limits: { readonly manifestMaxBytes: number; readonly catalogDefault: number; readonly maxPage: number };
  /** Webhook notifications (docs/operations.md); endpoints may be empty. */
  readonly notifications: NotificationsConfig;
  /** Access control; undefined when no `auth.*` method is configured (everything is open). */
  readonly auth: AuthConfig | undefined;
  /** Pull-through cache (proxy.*); undefined when no upstream is configured. */
  readonly proxy: ProxyConfig | undefined;
}

/** One upstream registry that a namespace of repositories mirrors. */
export interface UpstreamConfig {
  /** Repositories whose names start with this prefix mirror the upstream ('' is every repository). */
  readonly prefix: string;
  /** The upstream's origin, e.g. `https://registry-1.docker.io`. */
  readonly url: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** A cached tag is served this long before a HEAD revalidates it. */
  readonly ttlMs: number;
  /** Cached manifests not pulled for this long are evicted by the collector (0: never). */
  readonly unusedForMs: number;
  /** The collector evicts the least recently pulled cached manifests while the cache holds more bytes than this (undefined: no limit). */
  readonly maxBytes: number | undefined;
  /** Registry hosts this upstream stands for when a client sends `?ns=<host>` (containerd mirrors). */
  readonly hosts: readonly string[];
  /**
   * Repository globs that, named without the prefix and with no `?ns=`, are this upstream's too:
   * what a transparent mirror that sends no `?ns=` asks (dockerd's registry-mirrors, podman's mirrors).
   */
  readonly unprefixed: readonly string[];
  /** A one-component name is an official image under `library/` (Docker Hub's rule). */
  readonly library: boolean;
  /** Repository globs (upstream names) that may be pulled through; undefined: every one not denied. */
  readonly allow: readonly string[] | undefined;
  /** Repository globs (upstream names) that are never pulled through. */
  readonly deny: readonly string[];
}

export interface ProxyConfig {
  readonly upstreams: readonly UpstreamConfig[];
}

/** storage.s3.* (distribution's keys). */
export interface S3StorageConfig {
  readonly kind: 's3';
  readonly accessKey: string | undefined;
  readonly secretKey: string | undefined;
  readonly region: string;
  readonly regionEndpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly bucket: string;
  readonly rootDirectory: string;
  readonly encrypt: boolean;
  readonly keyId: string | undefined;
  readonly secure: boolean;
  readonly skipVerify: boolean;
  readonly chunkSize: number;
  readonly multipartCopyChunkSize: number;
  readonly multipartCopyMaxConcurrency: number;
  readonly multipartCopyThresholdSize: number;
  /** undefined: send no storage class (`NONE`). */
  readonly storageClass: string | undefined;
}

export type PolicyAction = 'pull' | 'push' | 'delete';

/** One `notifications.endpoints` entry, with distribution's defaults filled in. */
export interface NotificationEndpoint {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly timeoutMs: number;
  readonly threshold: number;
  readonly backoffMs: number;
  /** `ignoredmediatypes` and `ignore.mediatypes` together. */
  readonly ignoredMediaTypes: readonly string[];
  readonly ignoredActions: readonly string[];
  readonly disabled: boolean;
}

export interface NotificationsConfig {
  readonly endpoints: readonly NotificationEndpoint[];
  readonly includeReferences: boolean;
}

/** One `auth.policies` entry: who may do which actions on the repositories matching the globs. */
export interface PolicyRule {
  readonly repositories: readonly string[];
  /** User names; `*` is every authenticated user. */
  readonly users: readonly string[];
  readonly groups: readonly string[];
  /** Applies to callers without credentials too. */
  readonly anonymous: boolean;
  readonly actions: readonly PolicyAction[];
}

export interface AuthConfig {
  /** `basic`: htpasswd Basic auth on /v2/; `token`: Bearer tokens (own token service and/or an external one). */
  readonly mode: 'basic' | 'token';
  readonly htpasswd: { readonly realm: string; readonly path: string } | undefined;
  readonly token:
    | {
        readonly realm: string | undefined;
        readonly service: string;
        readonly issuer: string;
        readonly rootCertBundle: string | undefined;
        readonly jwks: string | undefined;
        readonly algorithms: readonly string[];
        readonly leewayMs: number;
      }
    | undefined;
  readonly tokenService: { readonly keyFile: string | undefined; readonly kidFormat: 'rfc7638' | 'libtrust'; readonly expirationMs: number; readonly refreshExpirationMs: number } | undefined;
  readonly admins: readonly string[];
  readonly groups: Readonly<Record<string, readonly string[]>>;
  /** undefined: the default policy (every authenticated user may do everything). */
  readonly policies: readonly PolicyRule[] | undefined;
  readonly rateLimit: { readonly attempts: number; readonly windowMs: number; readonly delayMs: number };
}

export interface RetentionRule {
  readonly repositories: readonly string[];
  /** Tags matching one of these regular expressions are kept. */
  readonly keepTags: readonly string[];
  /** The N most recently pushed tags are kept. */
  readonly keepNewest: number | undefined;
  /** Tags pushed more recently than this are kept. */
  readonly keepYoungerThanMs: number | undefined;
}

export interface LifecycleConfig {
  readonly immutable: readonly { readonly repositories: readonly string[]; readonly tags: readonly string[] }[];
  readonly quotas: readonly { readonly repositories: readonly string[]; readonly limitBytes: number; readonly per: 'repository' | 'namespace' }[];
  readonly untagged: readonly { readonly repositories: readonly string[]; readonly olderThanMs: number }[];
  readonly retention: readonly RetentionRule[];
}

export interface DatabaseConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly dbname: string;
  readonly sslmode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  readonly sslcert: string | undefined;
  readonly sslkey: string | undefined;
  readonly sslrootcert: string | undefined;
  readonly connectTimeoutMs: number;
  readonly pool: { readonly maxOpen: number; readonly maxIdle: number; readonly maxLifetimeMs: number };
}
