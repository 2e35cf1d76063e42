// The services scripts/test.mjs starts once per run (scripts/services.mjs): where a test finds them. A test
// that needs one fails when it is missing; it never skips (a skipped backend would pass CI untested).

export interface S3Service {
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
}

const HOW = 'run the tests through `npm test`, or start the services with `node scripts/services.mjs up --dir DIR` and export what it prints';

function variable(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set: ${HOW}`);
  return value;
}

/** A superuser URL of the test PostgreSQL server (each test file creates its own database). */
export function postgresService(): string {
  return variable('BERTH_TEST_POSTGRES_URL');
}

/** The test S3 server (Ceph radosgw, path-style; each test file creates its own bucket). */
export function s3Service(): S3Service {
  return {
    endpoint: variable('BERTH_TEST_S3_ENDPOINT'),
    accessKey: variable('BERTH_TEST_S3_ACCESS_KEY'),
    secretKey: variable('BERTH_TEST_S3_SECRET_KEY'),
    region: variable('BERTH_TEST_S3_REGION'),
  };
}
