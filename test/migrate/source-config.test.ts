// The source of `berth import`: a directory, or the old registry's configuration file whose storage
// section (distribution's keys and defaults) names a filesystem or an S3 bucket.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseSourceConfig, sourceConfigOf, SourceConfigError } from '../../src/migrate/source-config.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-source-'));

await describe('berth import source configuration', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a directory is a filesystem rootdirectory', () => {
    assert.deepEqual(sourceConfigOf(dir), { kind: 'filesystem', rootDirectory: dir });
  });

  it("reads the storage.s3 section of a 2.8.2 configuration and ignores the rest of distribution's keys", () => {
    const file = join(dir, 'config.yml');
    writeFileSync(
      file,
      [
        'version: 0.1',
        'http: { addr: ":5000", secret: s3cr3t, headers: { X-Content-Type-Options: [nosniff] } }',
        'redis: { addr: "localhost:6379" }',
        'storage:',
        '  cache: { blobdescriptor: inmemory }',
        '  s3: { accesskey: AK, secretkey: SK, region: us-east-1, regionendpoint: "http://rgw:7480", bucket: old, rootdirectory: /registry, secure: false, v4auth: true, chunksize: 5242880 }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(sourceConfigOf(file), {
      kind: 's3',
      bucket: 'old',
      rootDirectory: '/registry',
      settings: { accessKey: 'AK', secretKey: 'SK', region: 'us-east-1', regionEndpoint: 'http://rgw:7480', forcePathStyle: true, secure: false, skipVerify: false },
    });
  });

  it("distribution's defaults: AWS without an endpoint is virtual-hosted and secure; filesystem root /var/lib/registry", () => {
    const s3 = parseSourceConfig({ storage: { s3: { region: 'eu-west-1', bucket: 'b' } } }, 'c.yml');
    assert.equal(s3.kind, 's3');
    if (s3.kind === 's3') {
      assert.equal(s3.settings.forcePathStyle, false);
      assert.equal(s3.settings.secure, true);
      assert.equal(s3.settings.accessKey, undefined);
      assert.equal(s3.rootDirectory, '');
    }
    assert.deepEqual(parseSourceConfig({ storage: { filesystem: {} } }, 'c.yml'), { kind: 'filesystem', rootDirectory: '/var/lib/registry' });
    const explicit = parseSourceConfig({ storage: { s3: { region: 'r', bucket: 'b', regionendpoint: 'http://x', forcepathstyle: false } } }, 'c.yml');
    assert.equal(explicit.kind === 's3' && explicit.settings.forcePathStyle, false);
  });

  it('names what is wrong', () => {
    assert.throws(() => parseSourceConfig({ storage: { s3: { bucket: 'b' } } }, 'c.yml'), (error: Error) => error instanceof SourceConfigError && /storage\.s3\.region is required/.test(error.message));
    assert.throws(() => parseSourceConfig({ storage: { azure: {} } }, 'c.yml'), /neither filesystem nor s3/);
    assert.throws(() => parseSourceConfig({ version: 0.1 }, 'c.yml'), /no storage section/);
    assert.throws(() => parseSourceConfig({ storage: { s3: { region: 'r', bucket: 'b', secure: 'maybe' } } }, 'c.yml'), /secure must be true or false/);
    assert.throws(() => sourceConfigOf(join(dir, 'absent')), /no such directory or file/);
  });
});
