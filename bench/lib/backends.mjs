// Distributed backends for `npm run bench -- --storage s3` and `--berth-db postgres` (issue 13): a
// fresh S3 bucket on an S3-compatible store (Ceph radosgw) and a fresh PostgreSQL database per
// registry, and the config.yml lines that point a registry at them. The services come from
// BERTH_BENCH_S3_* / BERTH_BENCH_POSTGRES_URL, else from the test harness's BERTH_TEST_S3_* /
// BERTH_TEST_POSTGRES_URL (`source services/env` gives these on the development machine).
import crypto from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';

const env = (name) => process.env[`BERTH_BENCH_${name}`] ?? process.env[`BERTH_TEST_${name}`];

/** The S3 service, or null with the reason when none is configured. */
export function s3Service() {
  const endpoint = env('S3_ENDPOINT');
  if (!endpoint) return { service: null, why: 'neither BERTH_BENCH_S3_ENDPOINT nor BERTH_TEST_S3_ENDPOINT is set' };
  return { service: { endpoint, accessKey: env('S3_ACCESS_KEY') ?? '', secretKey: env('S3_SECRET_KEY') ?? '', region: env('S3_REGION') ?? 'us-east-1' }, why: null };
}

export function postgresService() {
  const url = env('POSTGRES_URL');
  return url ? { url, why: null } : { url: null, why: 'neither BERTH_BENCH_POSTGRES_URL nor BERTH_TEST_POSTGRES_URL is set' };
}

const s3Client = (s) => new S3Client({ endpoint: s.endpoint, region: s.region, forcePathStyle: true, credentials: { accessKeyId: s.accessKey, secretAccessKey: s.secretKey } });

/** A new bucket; resolves with its name, the lines under `storage:` (both registries read the same keys) and a remover. */
export async function createBucket(service, label) {
  const bucket = `bench-${label.replace(/[^a-z0-9-]/g, '-')}-${crypto.randomBytes(4).toString('hex')}`;
  const client = s3Client(service);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  // The driver's lines, indented under `storage:` (servers.mjs adds delete and cache next to them).
  const yaml = [
    '  s3:',
    `    accesskey: ${service.accessKey}`,
    `    secretkey: ${service.secretKey}`,
    `    region: ${service.region}`,
    `    regionendpoint: ${service.endpoint}`,
    '    forcepathstyle: true',
    `    bucket: ${bucket}`,
    '    secure: false',
    '    rootdirectory: /registry',
    // Blob GETs stream through the registry (issue 13 measures the pull with redirect off).
    '  redirect:',
    '    disable: true',
  ];
  return {
    bucket,
    yaml,
    /** Deletes every object (the shared radosgw keeps them in memory) and the bucket. */
    remove: async () => {
      try {
        for (;;) {
          const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
          const keys = (list.Contents ?? []).map((o) => ({ Key: o.Key }));
          if (keys.length === 0) break;
          await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
        }
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      } catch (e) {
        console.error(`# could not remove bucket ${bucket}: ${e?.message ?? e}`);
      } finally {
        client.destroy();
      }
    },
  };
}

async function admin(url, sql) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A new database; resolves with the `database:` lines for Berth's config.yml and a dropper. */
export async function createDatabase(url, label) {
  const name = `bench_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${crypto.randomBytes(4).toString('hex')}`;
  await admin(url, `CREATE DATABASE ${name}`);
  const u = new URL(url);
  // libpq's `?host=/socket/dir` names a Unix socket directory instead of the URL's host.
  const socket = u.searchParams.get('host');
  const yaml = [
    'database:',
    '  enabled: true',
    `  host: ${socket ?? u.hostname}`,
    `  port: ${u.port || 5432}`,
    ...(u.username ? [`  user: ${decodeURIComponent(u.username)}`] : []),
    ...(u.password ? [`  password: ${decodeURIComponent(u.password)}`] : []),
    `  dbname: ${name}`,
    '  sslmode: disable',
  ];
  return { name, yaml, drop: () => admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e) => console.error(`# could not drop ${name}: ${e?.message ?? e}`)) };
}
