// Requests through node:http for what fetch cannot do: raw (unnormalised) paths, repeated header
// lines, chunked bodies written piece by piece, and aborting a request in the middle of its body.
import { request, type ClientRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RawRequest {
  readonly method?: string;
  /** Sent exactly as given, e.g. `/v2/a/../b/tags/list` or `/v2/a%2Fb/tags/list`. */
  readonly path: string;
  /** An array value is sent as several header lines of the same name. */
  readonly headers?: OutgoingHttpHeaders;
  /** A Buffer is sent with Content-Length unless headers say otherwise; an array is sent chunk by chunk with chunked transfer coding. */
  readonly body?: Buffer | readonly Buffer[];
}

function target(baseUrl: string): { hostname: string; port: number } {
  const url = new URL(baseUrl);
  return { hostname: url.hostname, port: Number(url.port) };
}

export function rawRequest(baseUrl: string, options: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...options.headers };
    const body = options.body;
    if (Buffer.isBuffer(body) && headers['content-length'] === undefined && headers['Content-Length'] === undefined && headers['transfer-encoding'] === undefined) {
      headers['Content-Length'] = body.length;
    }
    const req = request({ ...target(baseUrl), method: options.method ?? 'GET', path: options.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) {
      req.end();
    } else if (Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      for (const chunk of body) req.write(chunk);
      req.end();
    }
  });
}

export interface OpenRequest {
  readonly req: ClientRequest;
  /** Settles when the request ends: with the response, or with the error of an aborted request. */
  readonly done: Promise<RawResponse | Error>;
}

/** Opens a request and writes only the first part of its body; the caller then aborts it. */
export function openRequest(baseUrl: string, options: RawRequest & { readonly firstPart: Buffer }): OpenRequest {
  let req: ClientRequest | undefined;
  const done = new Promise<RawResponse | Error>((resolve) => {
    req = request({ ...target(baseUrl), method: options.method ?? 'PATCH', path: options.path, headers: { ...options.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.write(options.firstPart);
  });
  return { req: req as unknown as ClientRequest, done };
}

/** A path relative to the registry for node:http, from an absolute or relative Location. */
export function pathOf(location: string): string {
  const url = new URL(location, 'http://registry.invalid');
  return url.pathname + url.search;
}
