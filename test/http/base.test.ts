// end-1: the API version check.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

describe('GET /v2/ (end-1)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({ storage: 'inmemory' });
  });
  after(async () => {
    await registry.stop();
  });

  it('GET /v2/ → 200 with Docker-Distribution-API-Version: registry/2.0', async () => {
    const response = await fetch(`${registry.url}/v2/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(await response.json(), {});
  });

  it('GET /v2 without the trailing slash → 200', async () => {
    const response = await fetch(`${registry.url}/v2`);
    await response.arrayBuffer();
    assert.equal(response.status, 200);
  });

  it('HEAD /v2/ → 200 with the version header and no body', async () => {
    const response = await fetch(`${registry.url}/v2/`, { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.equal((await response.arrayBuffer()).byteLength, 0);
  });

  it('every response, errors included, carries Docker-Distribution-API-Version', async () => {
    const response = await fetch(`${registry.url}/v2/nothing/here/manifests/latest`);
    await response.arrayBuffer();
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });
});
