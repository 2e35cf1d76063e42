// An HTTP proxy in front of a real upstream registry that the test controls: it counts requests
// (method and path), and fetches (requests the upstream answered with a 2xx: bytes served, where a
// 401 that a client answers with credentials is not), and, per request, forwards it as it is or injects a fault: a status of its own,
// a body with one byte changed, a body cut off after some bytes, or a body trickled slowly.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { readonly status: number; readonly headers?: Readonly<Record<string, string>> }
  | { readonly corrupt: true }
  | { readonly cutAfter: number }
  | { readonly trickle: { readonly bytes: number; readonly everyMs: number } };

export class FaultProxy {
  readonly #server: Server;
  readonly #target: URL;
  /** `METHOD path` → requests seen. */
  readonly counts = new Map<string, number>();
  /** `METHOD path` → requests forwarded that the upstream answered with a 2xx. */
  readonly fetches = new Map<string, number>();
  /** Decides each request's fault; undefined forwards it untouched. */
  rule: (method: string, path: string) => Fault | undefined = () => undefined;

  private constructor(target: string) {
    this.#target = new URL(target);
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  static async start(target: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  count(method: string, path: string): number {
    return this.counts.get(`${method} ${path}`) ?? 0;
  }

  fetched(method: string, path: string): number {
    return this.fetches.get(`${method} ${path}`) ?? 0;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const key = `${method} ${path}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const fault = this.rule(method, path);
    if (fault !== undefined && 'status' in fault) {
      req.resume();
      res.writeHead(fault.status, { 'Content-Type': 'application/json', ...fault.headers });
      res.end(method === 'HEAD' ? undefined : JSON.stringify({ errors: [{ code: 'FAULT', message: `injected ${fault.status}` }] }));
      return;
    }
    const headers = { ...req.headers, host: this.#target.host };
    const upstream = request({ host: this.#target.hostname, port: this.#target.port, method, path: req.url, headers }, (answer) => {
      const status = answer.statusCode ?? 502;
      if (status >= 200 && status < 300) this.fetches.set(key, (this.fetches.get(key) ?? 0) + 1);
      res.writeHead(status, answer.headers);
      if (fault === undefined) {
        answer.pipe(res);
        return;
      }
      let seen = 0;
      let flipped = false;
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => {
        if ('corrupt' in fault && !flipped) {
          const copy = Buffer.from(chunk);
          copy[0] = (copy[0] ?? 0) ^ 0xff;
          flipped = true;
          res.write(copy);
        } else if ('cutAfter' in fault) {
          const room = fault.cutAfter - seen;
          if (room > 0) res.write(chunk.subarray(0, room));
          if (seen + chunk.length >= fault.cutAfter) {
            answer.destroy();
            res.destroy();
          }
        } else if ('trickle' in fault) {
          chunks.push(chunk);
        } else {
          res.write(chunk);
        }
        seen += chunk.length;
      });
      answer.on('end', () => {
        if (!('trickle' in fault)) {
          res.end();
          return;
        }
        // Everything read from the upstream first, then sent slowly: a slow link, not a slow upstream.
        const all = Buffer.concat(chunks);
        let offset = 0;
        const tick = (): void => {
          if (res.destroyed) return;
          if (offset >= all.length) {
            res.end();
            return;
          }
          res.write(all.subarray(offset, offset + fault.trickle.bytes));
          offset += fault.trickle.bytes;
          setTimeout(tick, fault.trickle.everyMs);
        };
        tick();
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}
