// A recording HTTP proxy in front of the real S3 endpoint (radosgw): every request is forwarded as
// it came (headers, Host included, so that SigV4 signatures still match), and each one is recorded
// with its method, bucket and key, its copy source (x-amz-copy-source) and the bytes each way. The
// import tests point `regionendpoint` at it to see how many copies Berth asked for and whether it
// read any bytes back, on a store that does the work itself.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly bucket: string;
  readonly key: string;
  readonly query: string;
  /** `x-amz-copy-source` (bucket/key, decoded), when the request is a server-side copy. */
  readonly copySource: string | undefined;
  readonly bytesIn: number;
  bytesOut: number;
  status: number;
}

export interface S3RecordingProxy {
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startS3RecordingProxy(upstream: string): Promise<S3RecordingProxy> {
  const target = new URL(upstream);
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const [, bucket = '', ...key] = url.pathname.split('/');
    const copy = req.headers['x-amz-copy-source'];
    const record: RecordedRequest = {
      method: req.method ?? '',
      bucket: decodeURIComponent(bucket),
      key: decodeURIComponent(key.join('/')),
      query: url.search,
      copySource: typeof copy === 'string' ? decodeURIComponent(copy.replace(/^\//, '')) : undefined,
      bytesIn: Number(req.headers['content-length'] ?? 0),
      bytesOut: 0,
      status: 0,
    };
    requests.push(record);
    const forward = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
      record.status = reply.statusCode ?? 0;
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.on('data', (chunk: Buffer) => {
        record.bytesOut += chunk.length;
      });
      reply.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
