// The web UI is served at ui.path with a strict Content-Security-Policy, hashed immutable assets,
// and without shadowing anything else on the main address (docs/ui.md).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

describe('web UI at ui.path', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory' });
  });
  after(async () => {
    await registry.stop();
  });

  it('GET /ui/ → 200 index.html, not cached, with a CSP that allows only this origin and no inline code', async () => {
    const response = await fetch(`${registry.url}/ui/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    const html = await response.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((match) => match[1] ?? '');
    assert.ok(assets.some((asset) => /^assets\/index-[A-Za-z0-9_-]{8}\.js$/.test(asset)), `hashed script in ${assets.join(', ')}`);
    for (const asset of assets) {
      const file = await fetch(`${registry.url}/ui/${asset}`);
      assert.equal(file.status, 200, asset);
      assert.equal(file.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.ok(file.headers.get('content-security-policy'));
      assert.ok(Number(file.headers.get('content-length')) > 0);
      await file.arrayBuffer();
    }
  });

  it('GET /ui → 301 to /ui/; unknown files and path tricks → 404; POST → 405', async () => {
    const redirect = await fetch(`${registry.url}/ui`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), `${registry.url}/ui/`);
    for (const path of ['/ui/assets/nothing.js', '/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/assets']) {
      const response = await fetch(`${registry.url}${path}`);
      await response.arrayBuffer();
      assert.equal(response.status, 404, path);
    }
    const post = await fetch(`${registry.url}/ui/`, { method: 'POST' });
    await post.arrayBuffer();
    assert.equal(post.status, 405);
  });

  it('the UI does not shadow /v2/, /healthz, /readyz nor /metrics', async () => {
    for (const path of ['/v2/', '/healthz', '/readyz', '/metrics']) {
      const response = await fetch(`${registry.url}${path}`);
      await response.arrayBuffer();
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('content-security-policy'), null, path);
    }
  });

  it('ui.enabled false → /ui/ is 404', async () => {
    const off = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_UI_ENABLED: 'false' } });
    try {
      const response = await fetch(`${off.url}/ui/`);
      await response.arrayBuffer();
      assert.equal(response.status, 404);
    } finally {
      await off.stop();
    }
  });

  it('ui.path is served where configured; a path that collides with the registry\'s is refused naming the key', async () => {
    const moved = await startTestRegistry({ storage: 'inmemory', env: { REGISTRY_UI_PATH: '/console/' } });
    try {
      const response = await fetch(`${moved.url}/console/`);
      await response.arrayBuffer();
      assert.equal(response.status, 200);
    } finally {
      await moved.stop();
    }
    for (const path of ['/v2/', '/', '/healthz/', 'ui/', '/ui', '/metrics/']) {
      assert.throws(() => loadConfig(undefined, { REGISTRY_STORAGE_INMEMORY: '{}', REGISTRY_UI_PATH: path }), /ui\.path/, path);
    }
  });
});
