// Repository-name grammar and raw paths, unknown routes and methods, Accept handling, and the rule
// that no request a client can send makes the registry answer 5xx.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { content, freshRepository, MediaTypes } from '../support/content.js';
import { assertError, assertRawError } from '../support/error-envelope.js';
import { pushImage, startUpload } from '../support/push.js';
import { pathOf, rawRequest } from '../support/raw-http.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

describe('names, paths and errors', () => {
  let registry: TestRegistry;
  let repository: string;
  let manifestDigest: string;
  before(async () => {
    registry = await startTestRegistry({ storage: 'filesystem' });
    repository = freshRepository('names');
    manifestDigest = (await pushImage(registry.url, repository, 'latest')).manifest.digest;
  });
  after(async () => {
    await registry.stop();
  });

  const invalidNames: ReadonlyArray<readonly [string, string]> = [
    ['upper case', 'Library/Ubuntu'],
    ['a .. component', 'a/../b'],
    ['a . component', 'a/./b'],
    ['an empty component (//)', 'a//b'],
    ['a leading separator', '-a/b'],
    ['a trailing separator', 'a/b-'],
    ['a trailing slash', 'a/b/'],
    ['a space (encoded)', 'a%20b'],
    ['an empty component from encoded slashes', 'a%2F%2Fb'],
    ['a .. component from encoded slashes', 'a%2F..%2Fb'],
    ['an encoded backslash', 'a%5Cb'],
    ['a longer than 255 characters name', `${'a'.repeat(200)}/${'b'.repeat(60)}`],
  ];
  for (const [label, name] of invalidNames) {
    for (const suffix of ['tags/list', 'manifests/latest', `blobs/${content('x').digest}`]) {
      it(`GET /v2/<name with ${label}>/${suffix.split('/')[0] ?? ''} → 400 NAME_INVALID`, async () => {
        const response = await rawRequest(registry.url, { path: `/v2/${name}/${suffix}` });
        assertRawError(response, 400, 'NAME_INVALID', `/v2/${name}/${suffix}`);
      });
    }
  }

  it('POST upload to an invalid name → 400 NAME_INVALID', async () => {
    assertRawError(await rawRequest(registry.url, { method: 'POST', path: '/v2/UPPER/blobs/uploads/' }), 400, 'NAME_INVALID');
  });

  it('a 255-character name is valid (not NAME_INVALID)', async () => {
    const name = `${'a'.repeat(200)}/${'b'.repeat(54)}`;
    assert.equal(name.length, 255);
    assertRawError(await rawRequest(registry.url, { path: `/v2/${name}/tags/list` }), 404, 'NAME_UNKNOWN');
  });

  it('names with the allowed separators (., _, __, -, ---) are valid', async () => {
    for (const name of ['a.b/c_d', 'a__b/c---d', '0/1/2/3']) {
      assertRawError(await rawRequest(registry.url, { path: `/v2/${name}/tags/list` }), 404, 'NAME_UNKNOWN', name);
    }
  });

  it('a percent-encoded but otherwise valid path is decoded (%61 is a)', async () => {
    const encoded = repository.replace(/^t/, '%74');
    const response = await rawRequest(registry.url, { path: `/v2/${encoded}/manifests/latest` });
    assert.equal(response.status, 200);
  });

  it('malformed percent-encoding in the path → 400, not 5xx', async () => {
    const response = await rawRequest(registry.url, { path: '/v2/a%zz/tags/list' });
    assert.equal(response.status, 400);
  });

  for (const path of ['/', '/v1/', '/v2/foo', '/v2/foo/bar', '/v2/foo/unknown/thing', '/v2/foo/manifests/', '/v2/foo/blobs/', '/v3/foo/tags/list', '/favicon.ico']) {
    it(`unknown route GET ${path} → 404`, async () => {
      const response = await rawRequest(registry.url, { path });
      assert.equal(response.status, 404, response.body.toString());
    });
  }

  for (const [method, path] of [
    ['POST', '/v2/'],
    ['DELETE', '/v2/'],
    ['POST', '/v2/_catalog'],
    ['PUT', '/v2/a/tags/list'],
    ['POST', '/v2/a/manifests/latest'],
    ['PATCH', '/v2/a/manifests/latest'],
    ['PUT', `/v2/a/blobs/${content('x').digest}`],
    ['POST', `/v2/a/blobs/${content('x').digest}`],
    ['GET', '/v2/a/blobs/uploads/'],
    ['DELETE', '/v2/a/blobs/uploads/'],
    ['POST', `/v2/a/referrers/${content('x').digest}`],
  ] as const) {
    it(`wrong method ${method} ${path} → 405 UNSUPPORTED with Allow`, async () => {
      const response = await rawRequest(registry.url, { method, path });
      assertRawError(response, 405, 'UNSUPPORTED', `${method} ${path}`);
      assert.ok(typeof response.headers['allow'] === 'string' && response.headers['allow'].length > 0, 'Allow header lists the methods');
    });
  }

  it('GET manifest with several Accept header lines → 200 with the manifest', async () => {
    const response = await rawRequest(registry.url, {
      path: `/v2/${repository}/manifests/latest`,
      headers: { Accept: [MediaTypes.dockerManifest, `${MediaTypes.ociIndex}, ${MediaTypes.dockerList}`, MediaTypes.ociManifest] },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], MediaTypes.ociManifest);
    assert.equal(response.headers['docker-content-digest'], manifestDigest);
  });

  it('GET manifest with Accept lines that do not name its type → still 200 (no content negotiation failure for OCI)', async () => {
    const response = await rawRequest(registry.url, { path: `/v2/${repository}/manifests/latest`, headers: { Accept: ['application/json', '*/*'] } });
    assert.equal(response.status, 200);
  });

  it('every error body is the {errors:[{code,message,detail}]} envelope with Content-Type application/json', async () => {
    const response = await fetch(`${registry.url}/v2/${repository}/manifests/missing`);
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as { errors: Array<Record<string, unknown>> };
    assert.equal(body.errors.length, 1);
    assert.deepEqual(Object.keys(body.errors[0] ?? {}).sort(), ['code', 'detail', 'message']);
  });

  it('garbage to every route and method → never 5xx', async () => {
    const target = freshRepository('garbage');
    const targetDigest = (await pushImage(registry.url, target, 'latest')).manifest.digest;
    const location = await startUpload(registry.url, target);
    const uploadPathname = pathOf(location);
    const digest = content('garbage').digest;
    const paths = [
      '/v2/',
      '/v2/_catalog?n=99999999999999999999&last=%00',
      '/v2/_catalog?n=-5',
      `/v2/${target}/tags/list?n=1e3&last=${'z'.repeat(5000)}`,
      `/v2/${target}/tags/list?n=4294967296`,
      `/v2/${target}/manifests/latest`,
      `/v2/${target}/manifests/${'t'.repeat(200)}`,
      `/v2/${target}/manifests/sha256:${'f'.repeat(64)}`,
      `/v2/${target}/manifests/sha512:abc`,
      `/v2/${target}/manifests/md5:${'a'.repeat(32)}`,
      `/v2/${target}/manifests/a:b:c`,
      `/v2/${target}/manifests/%ff%fe`,
      `/v2/${target}/blobs/${digest}`,
      `/v2/${target}/blobs/${targetDigest}`,
      `/v2/${target}/blobs/not-a-digest`,
      `/v2/${target}/blobs/uploads/`,
      `/v2/${target}/blobs/uploads/?digest=garbage`,
      `/v2/${target}/blobs/uploads/?mount=${digest}&from=UPPER`,
      `/v2/${target}/blobs/uploads/?mount=${digest}&from=`,
      `/v2/${target}/blobs/uploads/?mount=&digest=`,
      uploadPathname,
      `${uploadPathname}?digest=${digest}`,
      `${uploadPathname}?digest=sha256:`,
      `/v2/${target}/blobs/uploads/${'9'.repeat(36)}`,
      `/v2/${target}/referrers/${digest}?artifactType=&n=x`,
      `/v2/${target}/referrers/${digest}?n=0`,
      `/v2/${target}/referrers/garbage`,
      `/v2/${'a/'.repeat(200)}b/tags/list`,
      '/v2/a/b/c/d/e/f/g/manifests/h',
      '/v2/%',
      '/v2/_catalog/tags/list',
      '/healthz',
    ];
    const garbageHeaders = [
      {},
      { 'Content-Type': 'garbage/\u0001'.replace('\u0001', 'x'), Range: 'bytes=9999999999999999999999-', 'Content-Range': 'bytes */*' },
      { Range: 'bytes=-99999999999999999999', 'Content-Range': '5-1', 'If-None-Match': '*' },
      { 'Content-Range': '0-18446744073709551616', Accept: '*/*;q=garbage' },
    ];
    const bodies = [undefined, Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":1}]}'), Buffer.from([0xff, 0xfe, 0x00, 0x01])];
    const failures: string[] = [];
    for (const path of paths) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        for (const [i, headers] of garbageHeaders.entries()) {
          const body = method === 'GET' || method === 'HEAD' ? undefined : bodies[i % bodies.length];
          let response;
          try {
            response = await rawRequest(registry.url, { method, path, headers, ...(body === undefined ? {} : { body }) });
          } catch (error) {
            failures.push(`${method} ${path.slice(0, 80)} headers#${i}: ${(error as Error).message}`);
            continue;
          }
          if (response.status >= 500) failures.push(`${method} ${path.slice(0, 80)} headers#${i} → ${response.status} ${response.body.toString().slice(0, 200)}`);
        }
      }
    }
    assert.deepEqual(failures, []);
    const health = await fetch(`${registry.url}/v2/`);
    await health.arrayBuffer();
    assert.equal(health.status, 200, 'the registry still serves after the garbage');
  });

  it('other repositories are untouched by the garbage', async () => {
    await assertError(await fetch(`${registry.url}/v2/${repository}/manifests/never`), 404, 'MANIFEST_UNKNOWN');
    const response = await fetch(`${registry.url}/v2/${repository}/manifests/latest`);
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-content-digest'), manifestDigest);
  });
});
