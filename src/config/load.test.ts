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
