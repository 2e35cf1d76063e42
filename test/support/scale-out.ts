// Several `berth serve` processes over one S3 bucket (the harness's radosgw) and one PostgreSQL
// database (the harness's server), as a scale-out runs them: a fresh bucket and database per call.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3/s3-client.js';
import { createTestDatabase, type TestDatabase } from './postgres-database.js';
import { freePort, startRegistryProcess, type RegistryProcess } from './registry-process.js';
import { s3Service } from './services.js';

export interface ScaleOut {
  readonly instances: RegistryProcess[];
  readonly database: TestDatabase;
  readonly bucket: string;
  /** The environment every instance runs with (to start another one, or restart one). */
  readonly env: Record<string, string>;
  /** Starts one more instance with the shared environment (and `extra`). */
  start(extra?: Record<string, string>): Promise<RegistryProcess>;
  /** Stops every instance, drops the database (the bucket is left to the harness's radosgw). */
  close(): Promise<void>;
}

/** `config`: a configuration file every instance is started with (REGISTRY_* variables come on top). */
export async function startScaleOut(label: string, count: number, extra: Record<string, string> = {}, config?: string): Promise<ScaleOut> {
  const service = s3Service();
  const bucket = `berth-${label.replace(/[^a-z0-9-]/g, '-')}-${randomBytes(4).toString('hex')}`;
  const client = createS3Client({ accessKey: service.accessKey, secretKey: service.secretKey, region: service.region, regionEndpoint: service.endpoint, forcePathStyle: true, secure: false, skipVerify: false });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  const database = await createTestDatabase(label);
  // `berth serve` refuses an unmigrated database: migrate it once, as an operator would.
  await (await database.open()).close();
  const target = new URL(database.url);
  const env: Record<string, string> = {
    REGISTRY_STORAGE_S3_REGION: service.region,
    REGISTRY_STORAGE_S3_REGIONENDPOINT: service.endpoint,
    REGISTRY_STORAGE_S3_FORCEPATHSTYLE: 'true',
    REGISTRY_STORAGE_S3_BUCKET: bucket,
    REGISTRY_STORAGE_S3_ACCESSKEY: service.accessKey,
    REGISTRY_STORAGE_S3_SECRETKEY: service.secretKey,
    REGISTRY_DATABASE_ENABLED: 'true',
    REGISTRY_DATABASE_HOST: target.hostname,
    REGISTRY_DATABASE_PORT: target.port,
    REGISTRY_DATABASE_USER: decodeURIComponent(target.username),
    REGISTRY_DATABASE_DBNAME: target.pathname.slice(1),
    REGISTRY_DATABASE_SSLMODE: 'disable',
    ...(target.password === '' ? {} : { REGISTRY_DATABASE_PASSWORD: decodeURIComponent(target.password) }),
    ...extra,
  };
  const dirs: string[] = [];
  const instances: RegistryProcess[] = [];
  const start = async (more: Record<string, string> = {}): Promise<RegistryProcess> => {
    // Unused by the S3 driver; the local directory the process may need for nothing shared.
    const dir = mkdtempSync(join(tmpdir(), `berth-${label}-`));
    dirs.push(dir);
    const instance = await startRegistryProcess(dir, await freePort(), { ...env, ...more }, config === undefined ? {} : { config });
    instances.push(instance);
    return instance;
  };
  try {
    for (let i = 0; i < count; i++) await start();
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.stop('SIGKILL')));
    await database.drop();
    throw error;
  }
  return {
    instances,
    database,
    bucket,
    env,
    start,
    close: async () => {
      await Promise.all(instances.map((instance) => instance.stop()));
      await database.drop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
