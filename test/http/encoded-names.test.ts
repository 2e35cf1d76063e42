// A percent-encoded slash in a repository name is a slash (distribution decodes it, and the Azure
// SDK's content client encodes whole names): the real @azure/container-registry client uploads a
// blob and a manifest to a nested name and reads them back. What stays refused (backslashes, control
// characters, dot segments however encoded) is answered 400 NAME_INVALID and written to the access
// log like every other request.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ContainerRegistryContentClient } from '@azure/container-registry';
import type { TokenCredential } from '@azure/core-auth';
import { content, freshRepository } from '../support/content.js';
import { assertRawError } from '../support/error-envelope.js';
import { makeTestPki, startAuthRegistry, tempDir, type AuthRegistry } from '../support/auth.js';
import { rawRequest } from '../support/raw-http.js';

/** The registry allows anonymous access: the SDK must never need a token. */
const neverAsked: TokenCredential = {
  getToken: () => Promise.reject(new Error('the registry asked for a token; it allows anonymous access')),
};

interface AccessLine {
  readonly msg?: string;
  readonly reqId?: string;
  readonly method?: string;
  readonly path?: string;
  readonly status?: number;
}

function accessLines(registry: AuthRegistry): AccessLine[] {
  return registry.logs().split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line) as AccessLine).filter((line) => line.msg === 'request');
}

describe('percent-encoded slashes in repository names', () => {
  let registry: AuthRegistry;
  let plain: AuthRegistry;
  let ca: Buffer;

  before(async () => {
    const dir = tempDir('berth-encoded-');
    const pki = makeTestPki(dir);
    ca = readFileSync(pki.ca);
    // The SDK drops the first character of an upload Location (it expects ACR's `/v2/...`), so it
    // needs http.relativeurls: true; with distribution's default (absolute) its uploads fail.
    registry = await startAuthRegistry('', dir, { http: `{ addr: 127.0.0.1:0, relativeurls: true, tls: { certificate: ${pki.certificate}, key: ${pki.key} } }` });
    plain = await startAuthRegistry('');
  });
  after(async () => {
    await registry.stop();
    await plain.stop();
  });

  it('the Azure SDK content client uploads a blob and a manifest to a nested name and reads both back', async () => {
    const repository = `samples/azure/${freshRepository('sdk')}`;
    const client = new ContainerRegistryContentClient(registry.url.replace('127.0.0.1', 'localhost'), repository, neverAsked, { tlsOptions: { ca } });
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = Buffer.from('a layer of the Azure SDK test');
    const uploadedConfig = await client.uploadBlob(config);
    const uploadedLayer = await client.uploadBlob(layer);
    assert.equal(uploadedLayer.digest, content(layer).digest);
    const set = await client.setManifest({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: uploadedConfig.digest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: uploadedLayer.digest, size: layer.length }],
    }, { tag: 'v2' });
    const byTag = await client.getManifest('v2');
    assert.equal(byTag.digest, set.digest);
    assert.deepEqual((byTag.manifest as { layers: Array<{ digest: string }> }).layers.map((descriptor) => descriptor.digest), [uploadedLayer.digest]);
    const downloaded = await client.downloadBlob(uploadedLayer.digest);
    const chunks: Buffer[] = [];
    for await (const chunk of downloaded.content) chunks.push(Buffer.from(chunk as Buffer));
    assert.deepEqual(Buffer.concat(chunks), layer);
    // The SDK really sent encoded names, and they name the same repository as the plain spelling.
    assert.ok(accessLines(registry).some((line) => line.path === `/v2/${repository}/manifests/v2`), 'the access log names the decoded path');
  });

  it('GET /v2/a%2Fb/… is GET /v2/a/b/…: same repository, Location with plain slashes', async () => {
    const repository = `nested/${freshRepository('enc')}`;
    const encoded = repository.replaceAll('/', '%2F');
    const started = await rawRequest(plain.url, { method: 'POST', path: `/v2/${encoded}/blobs/uploads/` });
    assert.equal(started.status, 202);
    assert.match(String(started.headers.location), new RegExp(`/v2/${repository}/blobs/uploads/`));
    const lower = await rawRequest(plain.url, { path: `/v2/${repository.replaceAll('/', '%2f')}/tags/list` });
    assertRawError(lower, 404, 'NAME_UNKNOWN');
  });

  const refused: ReadonlyArray<readonly [string, string]> = [
    ['an encoded backslash', '/v2/a%5Cb/tags/list'],
    ['a raw backslash', '/v2/a\\b/tags/list'],
    ['an encoded NUL', '/v2/a%00b/tags/list'],
    ['an encoded line feed', '/v2/a%0Ab/tags/list'],
    ['an encoded DEL', '/v2/a%7Fb/tags/list'],
    ['dot segments from encoded slashes', '/v2/public/base/..%2F..%2Fsecret/vault/tags/list'],
    ['encoded dot segments', '/v2/a/%2E%2E/b/tags/list'],
    ['an empty component from an encoded slash', '/v2/a%2F%2Fb/tags/list'],
    ['a double-encoded slash (stays %2F, not a name character)', '/v2/a%252Fb/tags/list'],
  ];
  for (const [label, path] of refused) {
    it(`${label} → 400 NAME_INVALID, in the access log`, async () => {
      const response = await rawRequest(plain.url, { path });
      assertRawError(response, 400, 'NAME_INVALID', path);
      const deadline = Date.now() + 10_000;
      const id = String(response.headers['x-request-id']);
      while (!accessLines(plain).some((line) => line.reqId === id && line.status === 400 && line.method === 'GET')) {
        assert.ok(Date.now() < deadline, `${path} is missing from the access log`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
  }
});
