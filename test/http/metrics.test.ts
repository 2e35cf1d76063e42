// Prometheus metrics: where they are served, what they count, and that nothing is measured when
// they are off. Names and labels are checked as an operator's queries use them.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, htpasswdLine, startAuthRegistry, tempDir, type AuthRegistry } from '../support/auth.js';
import { assertError } from '../support/error-envelope.js';
import { pushImage } from '../support/push.js';
import { freePort } from '../support/registry-process.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

/** The value of one sample line `name{labels} value`, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const [, labelText = '', value] = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line) ?? [];
    if (Object.entries(labels).every(([key, v]) => labelText.includes(`${key}="${v}"`))) return Number(value);
  }
  return undefined;
}

describe('metrics on the main address (the default)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(() => registry.stop());

  it('GET /metrics → 200 in the Prometheus text format, without credentials', async () => {
    const response = await fetch(`${registry.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# TYPE registry_http_requests_total counter$/m);
    assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
    assert.match(text, /^# TYPE nodejs_eventloop_lag_p99_seconds gauge$/m);
    assert.equal(sample(text, 'berth_build_info', { version: '0.1.0' }), 1);
  });

  it('requests are counted by endpoint id, method and status class, never by repository', async () => {
    const image = await pushImage(registry.url, 'metrics/app', 'v1');
    for (let i = 0; i < 3; i++) await (await fetch(`${registry.url}/v2/metrics/app/manifests/v1`, { headers: { Accept: image.manifest.mediaType } })).arrayBuffer();
    await (await fetch(`${registry.url}/v2/metrics/app/manifests/missing`)).arrayBuffer();
    await (await fetch(`${registry.url}/v2/metrics/app/blobs/${image.layers[0]?.digest ?? ''}`, { method: 'HEAD' })).arrayBuffer();
    const text = await (await fetch(`${registry.url}/metrics`)).text();
    assert.equal(sample(text, 'registry_http_requests_total', { handler: 'end-3', method: 'get', code: '2xx' }), 3);
    assert.equal(sample(text, 'registry_http_requests_total', { handler: 'end-3', method: 'get', code: '4xx' }), 1);
    assert.equal(sample(text, 'registry_http_requests_total', { handler: 'end-2', method: 'head', code: '2xx' }), 1);
    assert.equal(sample(text, 'registry_http_requests_total', { handler: 'end-7', method: 'put', code: '2xx' }), 1);
    assert.equal(sample(text, 'registry_http_request_duration_seconds_count', { handler: 'end-3', method: 'get' }), 4);
    assert.equal(sample(text, 'berth_pulled_bytes_total', { kind: 'manifest' }), 3 * image.manifest.size);
    const pushed = [image.config, ...image.layers].reduce((sum, blob) => sum + blob.size, 0);
    assert.equal(sample(text, 'berth_pushed_bytes_total'), pushed);
    assert.ok((sample(text, 'berth_metadata_action_seconds_count', { store: 'sqlite', action: 'getManifestByTag' }) ?? 0) >= 4);
    assert.ok((sample(text, 'registry_storage_action_seconds_count', { driver: 'filesystem', action: 'commitBytes' }) ?? 0) >= 1);
    assert.doesNotMatch(text, /metrics\/app|sha256:/, 'no repository or digest in any label');
  });

  it('the garbage collector, the upload sessions and the review queues are reported', async () => {
    const location = (await fetch(`${registry.url}/v2/metrics/gc/blobs/uploads/`, { method: 'POST' })).headers.get('location');
    assert.ok(location !== null);
    await registry.app.collectGarbage({ reviewDelayMs: 0 });
    const text = await (await fetch(`${registry.url}/metrics`)).text();
    assert.equal(sample(text, 'berth_uploads_in_progress'), 1);
    assert.equal(sample(text, 'berth_gc_runs_total', { result: 'ok' }), 1);
    assert.notEqual(sample(text, 'berth_gc_queue_depth', { queue: 'blobs' }), undefined);
    assert.ok((sample(text, 'berth_gc_last_success_timestamp_seconds') ?? 0) > Date.now() / 1000 - 60);
  });

  it('POST /metrics → 405 UNSUPPORTED', async () => {
    await assertError(await fetch(`${registry.url}/metrics`, { method: 'POST' }), 405, 'UNSUPPORTED');
  });
});

describe('metrics switched off (http.debug.prometheus.enabled: false)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({ env: { REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED: 'false' } });
  });
  after(() => registry.stop());

  it('GET /metrics → 404 NAME_UNKNOWN, and the App holds no metrics', async () => {
    await assertError(await fetch(`${registry.url}/metrics`), 404, 'NAME_UNKNOWN');
    assert.equal(registry.app.metrics, undefined);
  });
});

describe('metrics on the debug address (http.debug.addr)', () => {
  let registry: TestRegistry;
  let debugUrl: string;
  before(async () => {
    const port = await freePort();
    registry = await startTestRegistry({ env: { REGISTRY_HTTP_DEBUG_ADDR: `127.0.0.1:${port}`, REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH: '/debug/metrics' } });
    debugUrl = `http://127.0.0.1:${port}`;
  });
  after(() => registry.stop());

  it('GET <debug>/debug/metrics → 200; the main address does not serve them', async () => {
    await (await fetch(`${registry.url}/v2/`)).arrayBuffer();
    const text = await (await fetch(`${debugUrl}/debug/metrics`)).text();
    assert.equal(sample(text, 'registry_http_requests_total', { handler: 'end-1', method: 'get', code: '2xx' }), 1);
    await assertError(await fetch(`${registry.url}/debug/metrics`), 404, 'NAME_UNKNOWN');
    await assertError(await fetch(`${debugUrl}/v2/`), 404, 'NAME_UNKNOWN');
  });
});

describe('metrics behind access control (http.debug.prometheus.auth: true)', () => {
  let registry: AuthRegistry;
  const root = { user: 'root', password: 'root-Secret-3' };
  const alice = { user: 'alice', password: 'alice-Secret-1' };
  before(async () => {
    const dir = tempDir('berth-metrics-auth-');
    writeFileSync(join(dir, 'htpasswd'), `${htpasswdLine(root.user, root.password)}\n${htpasswdLine(alice.user, alice.password)}\n`);
    registry = await startAuthRegistry(
      `auth:\n  htpasswd: { realm: berth, path: \${dir}/htpasswd }\n  admins: [root]\n  policies:\n    - { repositories: ["alice/**"], users: [alice], actions: [pull, push] }\n  ratelimit: { attempts: 1000, delay: 0s }`,
      dir,
      { http: '{ addr: 127.0.0.1:0, debug: { prometheus: { auth: true } } }' },
    );
  });
  after(() => registry.stop());

  it('GET /metrics without credentials → 401 UNAUTHORIZED; as a user who sees part of the catalog → 403 DENIED; as an admin → 200', async () => {
    await assertError(await call(registry.url, 'GET', '/metrics', undefined), 401, 'UNAUTHORIZED');
    await assertError(await call(registry.url, 'GET', '/metrics', alice), 403, 'DENIED');
    await assertError(await call(registry.url, 'GET', '/metrics', { user: 'root', password: 'wrong' }), 401, 'UNAUTHORIZED');
    const response = await call(registry.url, 'GET', '/metrics', root);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.equal(sample(text, 'berth_auth_refusals_total', { reason: 'unauthenticated' }), 1);
    assert.equal(sample(text, 'berth_auth_refusals_total', { reason: 'denied' }), 1);
    assert.equal(sample(text, 'berth_auth_refusals_total', { reason: 'invalid_credentials' }), 1);
  });
});

describe('metrics count throttled logins (auth.ratelimit)', () => {
  let registry: AuthRegistry;
  let debugUrl: string;
  before(async () => {
    const dir = tempDir('berth-metrics-ratelimit-');
    writeFileSync(join(dir, 'htpasswd'), `${htpasswdLine('alice', 'alice-Secret-1')}\n`);
    const port = await freePort();
    debugUrl = `http://127.0.0.1:${port}`;
    registry = await startAuthRegistry(`auth: { htpasswd: { realm: r, path: \${dir}/htpasswd }, ratelimit: { attempts: 2, window: 1m, delay: 0s } }`, dir, {
      http: `{ addr: 127.0.0.1:0, debug: { addr: 127.0.0.1:${port} } }`,
    });
  });
  after(() => registry.stop());

  it('past the limit, each 429 adds to berth_auth_refusals_total{reason="rate_limited"}', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await call(registry.url, 'GET', '/v2/', { user: 'alice', password: `wrong-${i}` })).status, 401);
    await assertError(await call(registry.url, 'GET', '/v2/', { user: 'alice', password: 'wrong-2' }), 429, 'TOOMANYREQUESTS');
    await assertError(await call(registry.url, 'GET', '/v2/', { user: 'alice', password: 'alice-Secret-1' }), 429, 'TOOMANYREQUESTS');
    const text = await (await fetch(`${debugUrl}/metrics`)).text();
    assert.equal(sample(text, 'berth_auth_refusals_total', { reason: 'rate_limited' }), 2);
    assert.equal(sample(text, 'berth_auth_refusals_total', { reason: 'invalid_credentials' }), 2);
  });
});

describe('pull-through cache metrics (registry_proxy_*, distribution\'s names)', () => {
  let upstream: TestRegistry;
  let mirror: TestRegistry;
  before(async () => {
    upstream = await startTestRegistry();
    mirror = await startTestRegistry({ env: { REGISTRY_PROXY_REMOTEURL: upstream.url } });
  });
  after(async () => {
    await mirror.stop();
    await upstream.stop();
  });

  it('a cold pull counts misses and the bytes read from the upstream; a warm pull counts hits; bytes to clients count both', async () => {
    const image = await pushImage(upstream.url, 'cache/app', 'v1');
    const layer = image.layers[0];
    assert.ok(layer !== undefined);
    const get = async (path: string, accept?: string): Promise<number> => {
      const response = await fetch(`${mirror.url}${path}`, accept === undefined ? {} : { headers: { Accept: accept } });
      await response.arrayBuffer();
      return response.status;
    };
    for (let round = 0; round < 2; round++) {
      assert.equal(await get('/v2/cache/app/manifests/v1', image.manifest.mediaType), 200);
      assert.equal(await get(`/v2/cache/app/blobs/${layer.digest}`), 200);
    }
    assert.equal(await get(`/v2/cache/app/manifests/${image.manifest.digest}`, image.manifest.mediaType), 200);
    const text = await (await fetch(`${mirror.url}/metrics`)).text();
    const manifest = { type: 'manifest' };
    const blob = { type: 'blob' };
    assert.equal(sample(text, 'registry_proxy_requests_total', manifest), 3);
    assert.equal(sample(text, 'registry_proxy_misses_total', manifest), 1);
    assert.equal(sample(text, 'registry_proxy_hits_total', manifest), 2);
    assert.equal(sample(text, 'registry_proxy_requests_total', blob), 2);
    assert.equal(sample(text, 'registry_proxy_misses_total', blob), 1);
    assert.equal(sample(text, 'registry_proxy_hits_total', blob), 1);
    assert.equal(sample(text, 'registry_proxy_pulled_bytes_total', manifest), image.manifest.size);
    assert.equal(sample(text, 'registry_proxy_pulled_bytes_total', blob), layer.size);
    assert.equal(sample(text, 'registry_proxy_pushed_bytes_total', manifest), 3 * image.manifest.size);
    assert.equal(sample(text, 'registry_proxy_pushed_bytes_total', blob), 2 * layer.size);
    assert.match(text, new RegExp(`registry_proxy_hits_total\\{type="blob",upstream="${upstream.url}/?"\\} 1`), 'labelled by the configured upstream');
    assert.doesNotMatch(text, /registry_proxy_[a-z_]+\{[^}]*(cache\/app|sha256:)/, 'no repository or digest in any label');
  });
});
