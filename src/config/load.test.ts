import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseDuration } from './duration.js';
import { ConfigError, loadConfig } from './load.js';

const directories: string[] = [];
after(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function file(text: string): string {
  const directory = mkdtempSync(join(tmpdir(), 'berth-config-'));
  directories.push(directory);
  const path = join(directory, 'config.yml');
  writeFileSync(path, text);
  return path;
}

test('a distribution config.yml loads with its keys', () => {
  const config = loadConfig(
    file(`version: 0.1
log:
  level: warn
  fields: { service: registry }
storage:
  cache: { blobdescriptor: inmemory }
  filesystem: { rootdirectory: /var/lib/registry }
  delete: { enabled: true }
  maintenance:
    uploadpurging: { enabled: true, age: 168h, interval: 24h, dryrun: false }
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver: { enabled: true, interval: 10s, threshold: 3 }
`),
    {},
  );
  assert.equal(config.log.level, 'warn');
  assert.deepEqual(config.storage.driver, { kind: 'filesystem', rootDirectory: '/var/lib/registry' });
  assert.equal(config.storage.deleteEnabled, true);
  assert.equal(config.storage.uploadPurging.ageMs, 168 * 3600_000);
  assert.equal(config.http.port, 5000);
  assert.deepEqual(config.http.headers, { 'X-Content-Type-Options': ['nosniff'] });
  assert.equal(config.metadata.sqlitePath, '/var/lib/registry/metadata.sqlite');
});

test('an unknown key stops loading and names the key', () => {
  assert.throws(() => loadConfig(file('version: 0.1\nstorage:\n  filesystem:\n    rootdir: /x\n'), {}), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.key, 'storage.filesystem.rootdir');
    return true;
  });
});

test('a value of the wrong type names the key and its environment variable', () => {
  assert.throws(() => loadConfig(file('version: 0.1\nstorage:\n  delete:\n    enabled: "yes"\n'), {}), /storage\.delete\.enabled.*REGISTRY_STORAGE_DELETE_ENABLED/);
  assert.throws(() => loadConfig(undefined, { REGISTRY_HTTP_ADDR: 'nonsense' }), /http\.addr/);
  assert.throws(() => loadConfig(undefined, { REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: 'soon' }), /uploadpurging\.age/);
});

test('REGISTRY_* environment variables override the file', () => {
  const config = loadConfig(file('version: 0.1\nhttp:\n  addr: :5000\n'), {
    REGISTRY_HTTP_ADDR: '127.0.0.1:5055',
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/tmp/berth-env',
    REGISTRY_STORAGE_DELETE_ENABLED: 'true',
    REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED: 'true',
  });
  assert.equal(config.http.host, '127.0.0.1');
  assert.equal(config.http.port, 5055);
  assert.deepEqual(config.storage.driver, { kind: 'filesystem', rootDirectory: '/tmp/berth-env' });
  assert.equal(config.storage.deleteEnabled, true);
  assert.equal(config.storage.readOnly, true);
});

test('defaults serve on port 5000 with data in ./data', () => {
  const config = loadConfig(undefined, {});
  assert.equal(config.http.port, 5000);
  assert.deepEqual(config.storage.driver, { kind: 'filesystem', rootDirectory: join(process.cwd(), 'data') });
  assert.equal(config.storage.deleteEnabled, false);
});

test('Go durations parse to milliseconds', () => {
  assert.equal(parseDuration('24h'), 86_400_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('later'), undefined);
});

test('operations keys: the debug address, metrics, health check, drain delay and notification endpoints', () => {
  const config = loadConfig(
    file(`version: 0.1
http:
  addr: :5000
  draindelay: 5s
  debug: { addr: 127.0.0.1:5001, prometheus: { enabled: true, path: /debug/metrics } }
health:
  storagedriver: { enabled: true, interval: 2s, threshold: 0 }
notifications:
  events: { includereferences: true }
  endpoints:
    - name: ci
      url: https://ci.example.com/hook
      headers: { Authorization: [Bearer x] }
      timeout: 500ms
      threshold: 5
      backoff: 2s
      ignoredmediatypes: [application/octet-stream]
      ignore: { mediatypes: [application/vnd.oci.image.config.v1+json], actions: [pull] }
    - { name: old, url: "http://old.example.com/", disabled: true }
`),
    {},
  );
  assert.deepEqual(config.http.debug, { host: '127.0.0.1', port: 5001 });
  assert.deepEqual(config.metrics, { path: '/debug/metrics', auth: false });
  assert.equal(config.http.drainDelayMs, 5000);
  assert.deepEqual(config.health.storageDriver, { enabled: true, intervalMs: 2000, threshold: 1 });
  assert.equal(config.notifications.includeReferences, true);
  const [ci, old] = config.notifications.endpoints;
  assert.deepEqual(ci, {
    name: 'ci',
    url: 'https://ci.example.com/hook',
    headers: { Authorization: ['Bearer x'] },
    timeoutMs: 500,
    threshold: 5,
    backoffMs: 2000,
    ignoredMediaTypes: ['application/octet-stream', 'application/vnd.oci.image.config.v1+json'],
    ignoredActions: ['pull'],
    disabled: false,
  });
  assert.equal(old?.timeoutMs, 1000);
  assert.equal(old?.threshold, 10);
  assert.equal(old?.disabled, true);
  assert.equal(loadConfig(undefined, { REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED: 'false' }).metrics, undefined);
});

test('bad operations keys stop start-up naming the key', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ REGISTRY_HTTP_DEBUG_ADDR: 'nope' }, 'http.debug.addr'],
    [{ REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH: '/v2/metrics' }, 'http.debug.prometheus.path'],
    [{ REGISTRY_HTTP_DEBUG_PROMETHEUS_AUTH: 'true' }, 'http.debug.prometheus.auth'],
    [{ REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL: '0s' }, 'health.storagedriver.interval'],
    [{ REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{url: "http://x/"}]' }, 'notifications.endpoints[0]'],
    [{ REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{name: a, url: "ftp://x/"}]' }, 'notifications.endpoints[0]'],
    [{ REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{name: a, url: "http://x/"}, {name: a, url: "http://y/"}]' }, 'notifications.endpoints[1]'],
    [{ REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{name: a, url: "http://x/", retries: 3}]' }, 'notifications.endpoints[0]'],
    [{ REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{name: a, url: "http://x/", ignore: {actions: [tag]}}]' }, 'notifications.endpoints[0].ignore.actions'],
    [{ REGISTRY_NOTIFICATIONS_ENDPOINTS: '[{name: a, url: "http://x/", timeout: soon}]' }, 'notifications.endpoints[0].timeout'],
  ];
  for (const [env, key] of cases) {
    assert.throws(() => loadConfig(undefined, env), (error: unknown) => error instanceof ConfigError && error.key === key, JSON.stringify(env));
  }
});

test("storage.s3 loads distribution's keys from a file and REGISTRY_STORAGE_S3_* variables", () => {
  const config = loadConfig(
    file(`version: 0.1
storage:
  s3:
    region: us-east-1
    regionendpoint: rgw.example.com:7480
    forcepathstyle: true
    bucket: registry
    rootdirectory: /berth/
    encrypt: true
    keyid: kms-key
    secure: false
    chunksize: 6291456
    storageclass: NONE
`),
    { REGISTRY_STORAGE_S3_ACCESSKEY: 'AK', REGISTRY_STORAGE_S3_SECRETKEY: 'SK', REGISTRY_STORAGE_S3_MULTIPARTCOPYMAXCONCURRENCY: '7' },
  );
  const driver = config.storage.driver;
  assert.equal(driver.kind, 's3');
  if (driver.kind !== 's3') return;
  assert.deepEqual(
    { ...driver },
    {
      kind: 's3', accessKey: 'AK', secretKey: 'SK', region: 'us-east-1', regionEndpoint: 'rgw.example.com:7480', forcePathStyle: true, bucket: 'registry',
      rootDirectory: 'berth', encrypt: true, keyId: 'kms-key', secure: false, skipVerify: false, chunkSize: 6291456,
      multipartCopyChunkSize: 32 * 1024 * 1024, multipartCopyMaxConcurrency: 7, multipartCopyThresholdSize: 32 * 1024 * 1024, storageClass: undefined,
    },
  );
});

test('storage.s3 without a bucket, with a part size below 5 MiB, or with half a key pair → an error naming the key', () => {
  const named = (key: string) => (error: unknown) => error instanceof ConfigError && error.key === key;
  assert.throws(() => loadConfig(undefined, { REGISTRY_STORAGE_S3_REGION: 'us-east-1' }), named('storage.s3.bucket'));
  assert.throws(() => loadConfig(undefined, { REGISTRY_STORAGE_S3_REGION: 'us-east-1', REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_CHUNKSIZE: '1048576' }), named('storage.s3.chunksize'));
  assert.throws(() => loadConfig(undefined, { REGISTRY_STORAGE_S3_REGION: 'us-east-1', REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_ACCESSKEY: 'AK' }), named('storage.s3.secretkey'));
});

test('distribution\'s proxy keys (file or REGISTRY_PROXY_*) make the whole registry mirror one upstream', () => {
  const config = loadConfig(file('version: 0.1\nproxy:\n  remoteurl: https://registry-1.docker.io/\n  username: u\n  password: p\n  ttl: 10m\n'), {});
  assert.deepEqual(config.proxy, { upstreams: [{ prefix: '', url: 'https://registry-1.docker.io', username: 'u', password: 'p', ttlMs: 600_000, unusedForMs: 0, maxBytes: undefined, hosts: [], unprefixed: [], library: true, allow: undefined, deny: [] }] });
  const evicting = loadConfig(undefined, { REGISTRY_PROXY_REMOTEURL: 'http://127.0.0.1:5001', REGISTRY_PROXY_UNUSEDFOR: '720h', REGISTRY_PROXY_MAXSIZE: '10GiB' }).proxy?.upstreams[0];
  assert.equal(evicting?.unusedForMs, 720 * 3600_000);
  assert.equal(evicting?.maxBytes, 10 * 1024 ** 3);
  assert.throws(() => loadConfig(undefined, { REGISTRY_PROXY_REMOTEURL: 'http://127.0.0.1:5001', REGISTRY_PROXY_MAXSIZE: 'lots' }), /proxy\.maxsize.*maxsize must be a size/);
  const fromEnv = loadConfig(undefined, { REGISTRY_PROXY_REMOTEURL: 'http://127.0.0.1:5001', REGISTRY_PROXY_TTL: '0s' });
  assert.deepEqual(fromEnv.proxy?.upstreams[0], { prefix: '', url: 'http://127.0.0.1:5001', username: undefined, password: undefined, ttlMs: 0, unusedForMs: 0, maxBytes: undefined, hosts: [], unprefixed: [], library: false, allow: undefined, deny: [] });
  assert.equal(loadConfig(undefined, {}).proxy, undefined);
  assert.throws(() => loadConfig(undefined, { REGISTRY_PROXY_REMOTEURL: 'registry-1.docker.io' }), /proxy\.remoteurl/);
  assert.throws(() => loadConfig(undefined, { REGISTRY_PROXY_USERNAME: 'u' }), /proxy\.username.*needs proxy\.remoteurl/);
});

test('http.relativeurls: false unless set (distribution\'s default); the accepted-only keys that can refuse do', () => {
  assert.equal(loadConfig(undefined, {}).http.relativeUrls, false);
  assert.equal(loadConfig(undefined, { REGISTRY_HTTP_RELATIVEURLS: 'true' }).http.relativeUrls, true);
  assert.throws(() => loadConfig(undefined, { REGISTRY_HTTP_PREFIX: '/registry' }), /http\.prefix/);
  assert.equal(loadConfig(undefined, { REGISTRY_HTTP_PREFIX: '/' }).http.relativeUrls, false);
  assert.throws(() => loadConfig(undefined, { REGISTRY_HTTP_NET: 'unix' }), /http\.net/);
});

test('proxy.upstreams maps namespaces to upstreams with their own credentials, ttl and ?ns= hosts', () => {
  const config = loadConfig(
    file('version: 0.1\nproxy:\n  ttl: 1m\n  upstreams:\n    - { prefix: dockerhub/, remoteurl: https://registry-1.docker.io, hosts: [docker.io] }\n    - { prefix: ghcr/, remoteurl: "https://ghcr.io/", username: u, password: p, ttl: 10m }\n'),
    {},
  );
  assert.deepEqual(config.proxy?.upstreams, [
    { prefix: 'dockerhub/', url: 'https://registry-1.docker.io', username: undefined, password: undefined, ttlMs: 60_000, unusedForMs: 0, maxBytes: undefined, hosts: ['docker.io'], unprefixed: [], library: true, allow: undefined, deny: [] },
    { prefix: 'ghcr/', url: 'https://ghcr.io', username: 'u', password: 'p', ttlMs: 600_000, unusedForMs: 0, maxBytes: undefined, hosts: [], unprefixed: [], library: false, allow: undefined, deny: [] },
  ]);
  const evicting = loadConfig(
    file('version: 0.1\nproxy:\n  unusedfor: 48h\n  maxsize: 1GB\n  upstreams:\n    - { prefix: a/, remoteurl: https://a.io }\n    - { prefix: b/, remoteurl: https://b.io, unusedfor: 1h, maxsize: 5000 }\n'),
    {},
  ).proxy?.upstreams;
  assert.deepEqual(evicting?.map((u) => [u.unusedForMs, u.maxBytes]), [[48 * 3600_000, 1e9], [3600_000, 5000]], 'proxy.* are the defaults of each upstream');
  const bad = (yaml: string, pattern: RegExp): void => assert.throws(() => loadConfig(file(`version: 0.1\nproxy:\n${yaml}`), {}), pattern);
  bad('  upstreams:\n    - { remoteurl: https://ghcr.io }\n', /proxy\.upstreams\[0\].*prefix is required/);
  bad('  upstreams:\n    - { prefix: ghcr, remoteurl: https://ghcr.io }\n', /prefix is required/);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://ghcr.io, nope: 1 }\n', /unknown field nope/);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://ghcr.io, maxsize: big }\n', /proxy\.upstreams\[0\]\.maxsize/);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://ghcr.io, unusedfor: soon }\n', /unusedfor must be a duration/);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://a.io, hosts: [x.io] }\n    - { prefix: b/, remoteurl: https://b.io, hosts: [x.io] }\n', /two upstreams mirror the host x\.io/);
  bad('  remoteurl: https://a.io\n  upstreams:\n    - { prefix: b/, remoteurl: https://b.io }\n', /proxy\.remoteurl/);
});

test('proxy.upstreams: unprefixed (mirrors without ?ns=), library, allow and deny; ambiguous mappings are refused', () => {
  const config = loadConfig(
    file('version: 0.1\nproxy:\n  upstreams:\n    - { prefix: hub/, remoteurl: "http://127.0.0.1:5000", library: true, unprefixed: [library/**, grafana/*], allow: [library/*], deny: [library/bad] }\n    - { prefix: ghcr/, remoteurl: https://ghcr.io }\n'),
    {},
  );
  assert.deepEqual(config.proxy?.upstreams[0], { prefix: 'hub/', url: 'http://127.0.0.1:5000', username: undefined, password: undefined, ttlMs: 300_000, unusedForMs: 0, maxBytes: undefined, hosts: [], unprefixed: ['library/**', 'grafana/*'], library: true, allow: ['library/*'], deny: ['library/bad'] });
  const single = loadConfig(undefined, { REGISTRY_PROXY_REMOTEURL: 'https://registry-1.docker.io', REGISTRY_PROXY_ALLOW: 'library/*,grafana/**', REGISTRY_PROXY_DENY: 'library/bad' });
  assert.deepEqual([single.proxy?.upstreams[0]?.allow, single.proxy?.upstreams[0]?.deny], [['library/*', 'grafana/**'], ['library/bad']]);
  const bad = (yaml: string, pattern: RegExp): void => assert.throws(() => loadConfig(file(`version: 0.1\nproxy:\n${yaml}`), {}), pattern);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://a.io, unprefixed: ["**"] }\n    - { prefix: b/, remoteurl: https://b.io, unprefixed: [x/*] }\n', /proxy\.upstreams\[1\]\.unprefixed.*a\/ and b\/ both take repositories without a prefix/);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://a.io, unprefixed: [b/**] }\n    - { prefix: b/, remoteurl: https://b.io }\n', /proxy\.upstreams\[0\]\.unprefixed.*below the prefix b\//);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://a.io, unprefixed: [] }\n', /unprefixed.*non-empty list of repository globs/);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://a.io, allow: [UPPER] }\n', /allow.*repository globs/);
  bad('  upstreams:\n    - { prefix: a/, remoteurl: https://a.io, library: yes please }\n', /library must be true or false/);
  assert.throws(() => loadConfig(undefined, { REGISTRY_PROXY_DENY: 'x/*' }), /proxy\.deny.*needs proxy\.remoteurl/);
});
