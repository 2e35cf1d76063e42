// Berth on S3 (the harness's Ceph radosgw): blobs pushed through the API land in the bucket, and a
// blob GET is a 307 to a presigned S3 URL (storage.redirect.disable: false, distribution's default)
// or is streamed through Berth with Range (true). HEAD always stays on Berth.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3/s3-client.js';
import { freePort, startRegistryProcess, type RegistryProcess } from '../support/registry-process.js';
import { s3Service } from '../support/services.js';

async function pushBlob(url: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const started = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  assert.equal(started.status, 202);
  const location = new URL(started.headers.get('location') ?? '', url);
  location.searchParams.set('digest', digest);
  const done = await fetch(location, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(done.status, 201, await done.text());
  return digest;
}

for (const redirectDisabled of [false, true]) {
  describe(`blob GET on S3 with storage.redirect.disable: ${redirectDisabled}`, () => {
    let registry: RegistryProcess;
    let dataDir = '';
    before(async () => {
      const service = s3Service();
      const bucket = `berth-redirect-${redirectDisabled}-${process.pid}-${Date.now()}`;
      const client = createS3Client({ accessKey: service.accessKey, secretKey: service.secretKey, region: service.region, regionEndpoint: service.endpoint, forcePathStyle: true, secure: false, skipVerify: false });
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      client.destroy();
      dataDir = mkdtempSync(join(tmpdir(), 'berth-s3-redirect-'));
      registry = await startRegistryProcess(dataDir, await freePort(), {
        REGISTRY_STORAGE_S3_REGION: service.region,
        REGISTRY_STORAGE_S3_REGIONENDPOINT: service.endpoint,
        REGISTRY_STORAGE_S3_FORCEPATHSTYLE: 'true',
        REGISTRY_STORAGE_S3_BUCKET: bucket,
        REGISTRY_STORAGE_S3_ROOTDIRECTORY: 'berth',
        REGISTRY_STORAGE_S3_ACCESSKEY: service.accessKey,
        REGISTRY_STORAGE_S3_SECRETKEY: service.secretKey,
        REGISTRY_STORAGE_REDIRECT_DISABLE: String(redirectDisabled),
      });
    });
    after(async () => {
      await registry?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('HEAD blob → 200 from Berth with its size and digest', async () => {
      const bytes = Buffer.alloc(300_000, 7);
      const digest = await pushBlob(registry.url, 'library/head', bytes);
      const head = await fetch(`${registry.url}/v2/library/head/blobs/${digest}`, { method: 'HEAD', redirect: 'manual' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(bytes.length));
      assert.equal(head.headers.get('docker-content-digest'), digest);
    });

    it(redirectDisabled ? 'GET blob → 200 streamed by Berth; Range → 206 with exactly the range' : 'GET blob → 307 to a presigned URL that serves the exact bytes and ranges', async () => {
      const bytes = Buffer.alloc(700_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
      const digest = await pushBlob(registry.url, 'library/get', bytes);
      const blobUrl = `${registry.url}/v2/library/get/blobs/${digest}`;
      const first = await fetch(blobUrl, { redirect: 'manual' });
      if (redirectDisabled) {
        assert.equal(first.status, 200);
        assert.ok(Buffer.from(await first.arrayBuffer()).equals(bytes));
        const ranged = await fetch(blobUrl, { headers: { Range: 'bytes=1000-1999' } });
        assert.equal(ranged.status, 206);
        assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(1000, 2000)));
        return;
      }
      assert.equal(first.status, 307);
      await first.arrayBuffer();
      const location = first.headers.get('location') ?? '';
      assert.ok(location.startsWith(s3Service().endpoint), location);
      assert.match(location, /X-Amz-Signature=/);
      const direct = await fetch(location);
      assert.equal(direct.status, 200);
      assert.ok(Buffer.from(await direct.arrayBuffer()).equals(bytes));
      const ranged = await fetch(blobUrl, { headers: { Range: 'bytes=1000-1999' } });
      assert.equal(ranged.status, 206);
      assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(1000, 2000)));
    });
  });
}
