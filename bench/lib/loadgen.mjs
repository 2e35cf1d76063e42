// Small-request load generator: raw keep-alive HTTP/1.1 over net sockets, one request in flight per
// connection (no pipelining). It runs in a worker thread so it has its own event loop; every
// response is checked (status, body bytes or Content-Length, Docker-Content-Digest).
import net from 'node:net';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** One connection: sends a request, parses the response, calls back, repeats until told to stop. */
class Conn {
  constructor(spec, onResponse, onError) {
    this.spec = spec;
    this.onResponse = onResponse;
    this.onError = onError;
    this.buf = null;
    this.head = spec.method === 'HEAD';
    this.request = Buffer.from(
      `${spec.method} ${spec.path} HTTP/1.1\r\nHost: ${spec.host}:${spec.port}\r\nAccept: ${spec.accept ?? '*/*'}\r\nUser-Agent: berth-bench\r\n\r\n`,
      'latin1',
    );
  }
  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect({ host: this.spec.host, port: this.spec.port, noDelay: true }, resolve);
      this.sock.once('error', reject);
      this.sock.on('data', (d) => this.data(d));
      this.sock.on('close', () => {
        if (this.waiting) this.onError('connection closed while waiting for a response');
        this.closed = true;
      });
    }).then(() => {
      this.sock.removeAllListeners('error');
      this.sock.on('error', (e) => this.onError(`socket error: ${e.message}`));
    });
  }
  send() {
    this.t0 = process.hrtime.bigint();
    this.waiting = true;
    this.sock.write(this.request);
  }
  data(chunk) {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const r = this.parse();
      if (r === null) return;
      this.waiting = false;
      const ms = Number(process.hrtime.bigint() - this.t0) / 1e6;
      this.onResponse(this, r, ms);
      if (!this.buf || this.buf.length === 0) {
        this.buf = null;
        return;
      }
    }
  }
  parse() {
    const buf = this.buf;
    if (!buf) return null;
    const he = buf.indexOf(CRLFCRLF);
    if (he < 0) return null;
    const headText = buf.toString('latin1', 0, he);
    const status = Number(headText.slice(9, 12));
    const headers = {};
    for (const line of headText.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    let bodyStart = he + 4;
    let body = null;
    let end = bodyStart;
    if (this.head || status === 204 || status === 304) {
      end = bodyStart;
    } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts = [];
      let p = bodyStart;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) return null;
        const size = parseInt(buf.toString('latin1', p, le), 16);
        if (size === 0) {
          const te = buf.indexOf('\r\n', le + 2); // no trailers expected: "0\r\n\r\n"
          if (te < 0) return null;
          end = te + 2;
          break;
        }
        if (buf.length < le + 2 + size + 2) return null;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (buf.length < bodyStart + len) return null;
      body = buf.subarray(bodyStart, bodyStart + len);
      end = bodyStart + len;
    } else {
      return null; // read-until-close bodies are not expected from a registry on keep-alive
    }
    this.buf = end < buf.length ? buf.subarray(end) : null;
    return { status, headers, body };
  }
  close() {
    this.sock?.destroy();
  }
}

/** Returns null when the response is right, else what is wrong. */
function check(spec, r) {
  const e = spec.expect;
  if (r.status !== e.status) return `status ${r.status}, expected ${e.status}`;
  if (e.digest && (r.headers['docker-content-digest'] ?? '').toLowerCase() !== e.digest) {
    return `Docker-Content-Digest ${r.headers['docker-content-digest']}, expected ${e.digest}`;
  }
  if (spec.method === 'HEAD') {
    if (e.contentLength !== undefined && Number(r.headers['content-length']) !== e.contentLength) {
      return `Content-Length ${r.headers['content-length']}, expected ${e.contentLength}`;
    }
  } else if (e.body) {
    if (!r.body || !r.body.equals(e.body)) return `body differs (${r.body?.length} bytes, expected ${e.body.length})`;
  }
  if (r.headers.connection?.toLowerCase() === 'close') return 'server closed the keep-alive connection';
  return null;
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Runs one load: `concurrency` connections for `durationMs`, or until `count` requests in all. */
async function run({ spec, concurrency, durationMs, count }) {
  spec.expect.body = spec.expect.body ? Buffer.from(spec.expect.body) : null;
  let lat = new Float64Array(1 << 16);
  let n = 0;
  let bad = 0;
  const errors = [];
  let stopping = false;
  let started = 0;
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  let active = concurrency;
  const conns = [];
  const retire = (c) => {
    c.close();
    if (--active === 0) finish();
  };
  const onError = (msg) => {
    bad++;
    if (errors.length < 5) errors.push(msg);
    stopping = true; // a broken server stops the run
    for (const c of conns) c.close();
    finish();
  };
  const onResponse = (c, r, ms) => {
    const wrong = check(spec, r);
    if (wrong) {
      bad++;
      if (errors.length < 5) errors.push(`${spec.method} ${spec.path}: ${wrong}`);
    }
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[n++] = ms;
    if (stopping || (count !== undefined && started >= count)) return retire(c);
    if (wrong && r.headers.connection?.toLowerCase() === 'close') return retire(c);
    started++;
    c.send();
  };
  for (let i = 0; i < concurrency; i++) conns.push(new Conn(spec, onResponse, onError));
  await Promise.all(conns.map((c) => c.connect()));
  const t0 = process.hrtime.bigint();
  const timer = durationMs ? setTimeout(() => (stopping = true), durationMs) : null;
  for (const c of conns) {
    if (count !== undefined && started >= count) {
      retire(c);
      continue;
    }
    started++;
    c.send();
  }
  await done;
  if (timer) clearTimeout(timer);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const c of conns) c.close();
  const sorted = lat.subarray(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    requests: n,
    bad,
    errors,
    elapsed_s: elapsed,
    rps: n / elapsed,
    mean_ms: n ? sum / n : null,
    p50_ms: percentile(sorted, 50),
    p90_ms: percentile(sorted, 90),
    p99_ms: percentile(sorted, 99),
    max_ms: n ? sorted[n - 1] : null,
  };
}

if (!isMainThread) {
  parentPort.on('message', async (msg) => {
    try {
      parentPort.postMessage({ ok: true, result: await run(msg) });
    } catch (e) {
      parentPort.postMessage({ ok: false, error: String(e?.stack ?? e) });
    }
  });
}

/** The orchestrator's handle on the worker thread. */
export class LoadGenerator {
  constructor() {
    this.worker = new Worker(new URL(import.meta.url));
    this.worker.unref();
  }
  /** spec: { method, host, port, path, accept?, expect: { status, body?: Buffer, contentLength?, digest? } } */
  run(spec, { concurrency = 1, durationMs, count } = {}) {
    return new Promise((resolve, reject) => {
      this.worker.once('message', (m) => (m.ok ? resolve(m.result) : reject(new Error(m.error))));
      const wire = { ...spec, expect: { ...spec.expect, body: spec.expect.body ? new Uint8Array(spec.expect.body) : null } };
      this.worker.postMessage({ spec: wire, concurrency, durationMs, count });
    });
  }
  close() {
    return this.worker.terminate();
  }
}
