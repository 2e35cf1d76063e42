// Builds the AWS SDK client of the S3 driver from `storage.s3.*` (distribution's keys). Settings that
// backends.md found necessary for S3-compatible stores: path-style on request, checksums only when an
// operation requires them. Retries: the SDK's standard mode (exponential backoff with jitter on
// throttling, 5xx and connection errors). Timeouts keep a dead endpoint from hanging requests.
import { S3Client } from '@aws-sdk/client-s3';

export interface S3ClientSettings {
  readonly accessKey: string | undefined;
  readonly secretKey: string | undefined;
  readonly region: string;
  readonly regionEndpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly secure: boolean;
  readonly skipVerify: boolean;
  /** Attempts per request, the first one included. */
  readonly maxAttempts?: number;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

/** The endpoint URL: regionendpoint as given, with http(s):// from `secure` when it has no scheme. */
export function endpointUrl(settings: S3ClientSettings): string | undefined {
  const endpoint = settings.regionEndpoint;
  if (endpoint === undefined || endpoint === '') return undefined;
  return /^https?:\/\//.test(endpoint) ? endpoint : `${settings.secure ? 'https' : 'http'}://${endpoint}`;
}

export function createS3Client(settings: S3ClientSettings): S3Client {
  const endpoint = endpointUrl(settings);
  return new S3Client({
    region: settings.region,
    ...(endpoint === undefined ? {} : { endpoint }),
    forcePathStyle: settings.forcePathStyle,
    // Without keys: the AWS default credential chain (environment, profile, web identity, instance role).
    ...(settings.accessKey !== undefined && settings.secretKey !== undefined
      ? { credentials: { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey } }
      : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    retryMode: 'standard',
    maxAttempts: settings.maxAttempts ?? 5,
    requestHandler: {
      httpAgent: { keepAlive: true, maxSockets: 64 },
      httpsAgent: { keepAlive: true, maxSockets: 64, rejectUnauthorized: !settings.skipVerify },
      connectionTimeout: settings.connectionTimeoutMs ?? 5_000,
      requestTimeout: settings.requestTimeoutMs ?? 60_000,
    },
  });
}
