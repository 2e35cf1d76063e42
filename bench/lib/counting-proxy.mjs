// An HTTP proxy in front of a registry that counts the requests it forwards (method and path), so
// that the bench can say how many times a registry asked its upstream for a blob. Bytes are piped
// through untouched; every measurement, direct pulls included, goes through it alike.
import http from 'node:http';

export class CountingProxy {
  constructor(target) {
    this.target = new URL(target);
    this.counts = new Map();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    this.server = http.createServer((req, res) => {
      const key = `${req.method} ${req.url.split('?')[0]}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      const upstream = http.request({ host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
  }

  static async start(target) {
    const proxy = new CountingProxy(target);
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
