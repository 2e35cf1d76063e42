// S3 down: Berth answers 503 with the JSON envelope (code UNAVAILABLE), never a 500 or a hang, and
// /readyz answers 503 (naming storage) while /healthz stays 200; both recover when S3 is back.
// The outage is a TCP proxy in front of the harness's radosgw that this test cuts and restores.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3/s3-client.js';
import { freePort, startRegistryProcess, type RegistryProcess } from '../support/registry-process.js';
import { s3Service } from '../support/services.js';

describe('S3 unreachable', () => {
  let registry: RegistryProcess;
  let proxy: Server;
  const sockets = new Set<Socket>();
  let dataDir = '';
  let down = false;
  /** From now on every connection to S3 is reset, and the open ones are cut. */
  const cut = (): void => {
    down = true;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  const restore = (): void => {
    down = false;
  };
  const readyz = async (): Promise<{ status: number; storage: string | undefined }> => {
    const response = await fetch(`${registry.url}/readyz`);
    const body = (await response.json()) as { checks?: { storage?: string } };
    return { status: response.status, storage: body.checks?.storage };
  };
  before(async () => {
    const service = s3Service();
    const target = new URL(service.endpoint);
    const bucket = `berth-outage-${process.pid}-${Date.now()}`;
    const client = createS3Client({ accessKey: service.accessKey, secretKey: service.secretKey, region: service.region, regionEndpoint: service.endpoint, forcePathStyle: true, secure: false, skipVerify: false });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    proxy = createServer((inbound) => {
      if (down) {
        inbound.resetAndDestroy();
        return;
      }
      const outbound = connect(Number(target.port), target.hostname);
      sockets.add(inbound).add(outbound);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
    });
    const port = await freePort();
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
    dataDir = mkdtempSync(join(tmpdir(), 'berth-s3-outage-'));
    registry = await startRegistryProcess(dataDir, await freePort(), {
      REGISTRY_STORAGE_S3_REGION: service.region,
      REGISTRY_STORAGE_S3_REGIONENDPOINT: `http://127.0.0.1:${port}`,
      REGISTRY_STORAGE_S3_FORCEPATHSTYLE: 'true',
      REGISTRY_STORAGE_S3_BUCKET: bucket,
      REGISTRY_STORAGE_S3_ACCESSKEY: service.accessKey,
      REGISTRY_STORAGE_S3_SECRETKEY: service.secretKey,
      // Blob GETs are streamed through Berth (with redirects a GET is a 307 that never reaches S3).
      REGISTRY_STORAGE_REDIRECT_DISABLE: 'true',
    });
  });
  after(async () => {
    await registry?.stop();
    proxy?.close();
    for (const socket of sockets) socket.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a blob PUT while S3 is down → 503 UNAVAILABLE in the JSON envelope, and the blob is not recorded', async () => {
    const bytes = Buffer.from('bytes that cannot be stored');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const started = await fetch(`${registry.url}/v2/library/outage/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202);
    cut();
    const location = new URL(started.headers.get('location') ?? '', registry.url);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(put.status, 503);
    const body = (await put.json()) as { errors: { code: string }[] };
    assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
    const head = await fetch(`${registry.url}/v2/library/outage/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    restore();
  });

  it('a blob GET while S3 is down → 503 UNAVAILABLE in the JSON envelope, without the blob\'s headers; the same GET serves the blob once S3 is back', async () => {
    restore();
    const bytes = Buffer.alloc(3 * 1024 * 1024, 0x5a);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const put = await fetch(`${registry.url}/v2/library/outage/blobs/uploads/?digest=${digest}`, { method: 'POST', body: new Uint8Array(bytes), headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(put.status, 201);
    cut();
    const during = await fetch(`${registry.url}/v2/library/outage/blobs/${digest}`);
    assert.equal(during.status, 503);
    assert.equal(during.headers.get('docker-content-digest'), null, 'no header of the blob on the error');
    assert.equal(((await during.json()) as { errors: { code: string }[] }).errors[0]?.code, 'UNAVAILABLE');
    restore();
    const back = await fetch(`${registry.url}/v2/library/outage/blobs/${digest}`);
    assert.equal(back.status, 200);
    assert.equal(createHash('sha256').update(Buffer.from(await back.arrayBuffer())).digest('hex'), digest.slice('sha256:'.length));
  });

  it('/readyz → 503 naming storage while S3 is down, /healthz stays 200; both 200 and pushes work once S3 is back', async () => {
    restore();
    assert.deepEqual(await readyz(), { status: 200, storage: 'ok' });
    cut();
    const during = await readyz();
    assert.equal(during.status, 503);
    assert.notEqual(during.storage, 'ok');
    assert.ok((during.storage ?? '').length > 0, 'the storage check says why it failed');
    assert.equal((await fetch(`${registry.url}/healthz`)).status, 200, 'liveness does not depend on S3');
    restore();
    assert.deepEqual(await readyz(), { status: 200, storage: 'ok' });
    const bytes = Buffer.from('bytes stored once S3 is back');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const put = await fetch(`${registry.url}/v2/library/outage/blobs/uploads/?digest=${digest}`, { method: 'POST', body: new Uint8Array(bytes), headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(put.status, 201);
    const head = await fetch(`${registry.url}/v2/library/outage/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });
});
