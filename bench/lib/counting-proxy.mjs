// An HTTP proxy in front of a registry that counts the requests it forwards (method and path), so
// that the bench can say how many times a registry asked its upstream for a blob, and optionally
// shapes the bytes it sends back to one shared rate, as a network link to a remote registry would
// (`mibps`; 0 leaves them unshaped). Bytes are passed through unchanged; every measurement, direct
// pulls included, goes through it alike.
import http from 'node:http';
import { Transform } from 'node:stream';

/** One link's budget: every response body shares it (a token bucket with no burst). */
class Link {
  constructor(bytesPerSecond) {
    this.rate = bytesPerSecond;
    this.free = 0;
  }
  /** A stream that lets each chunk through once the link has carried the ones before it. */
  shaper() {
    return new Transform({
      transform: (chunk, _encoding, done) => {
        const now = performance.now();
        this.free = Math.max(this.free, now) + (chunk.length / this.rate) * 1000;
        const wait = this.free - now;
        if (wait < 1) done(null, chunk);
        else setTimeout(() => done(null, chunk), wait);
      },
    });
  }
}

export class CountingProxy {
  constructor(target, mibps = 0) {
    this.target = new URL(target);
    this.link = mibps > 0 ? new Link(mibps * 1024 * 1024) : null;
    this.counts = new Map();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    this.server = http.createServer((req, res) => {
      const key = `${req.method} ${req.url.split('?')[0]}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      const upstream = http.request({ host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (this.link === null) answer.pipe(res);
        else answer.pipe(this.link.shaper()).pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
  }

  static async start(target, mibps = 0) {
    const proxy = new CountingProxy(target, mibps);
    await new Promise((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.base = `http://127.0.0.1:${proxy.server.address().port}`;
    return proxy;
  }

  count(method, path) {
    return this.counts.get(`${method} ${path}`) ?? 0;
  }

  stop() {
    this.agent.destroy();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }
}
