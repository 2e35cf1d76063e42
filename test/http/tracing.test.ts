// OpenTelemetry tracing against a real OTLP/HTTP receiver: `berth serve` runs as a child process
// with the standard OTEL_* variables; a small HTTP server in the test decodes what the exporter
// sends (OTLP JSON; and for http/protobuf, checks the protobuf body carries the spans) and the test
// checks the request span, its children, their attributes and parent links, including a parent
// taken from an incoming W3C traceparent, and that log lines carry the trace id.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pushImage } from '../support/push.js';
import { freePort, startRegistryProcess, type RegistryProcess } from '../support/registry-process.js';

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: OtlpValue }>;
  status?: { code?: number };
}
interface Received {
  readonly contentType: string;
  readonly body: Buffer;
}

/** An OTLP/HTTP receiver: keeps every POST /v1/traces. */
async function startReceiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') received.push({ contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, received, server };
}

function jsonSpans(received: readonly Received[]): Array<OtlpSpan & { service: string }> {
  const spans: Array<OtlpSpan & { service: string }> = [];
  for (const { body } of received) {
    const message = JSON.parse(body.toString('utf8')) as {
      resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: OtlpValue }> }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
    };
    for (const resource of message.resourceSpans) {
      const service = resource.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
      for (const scope of resource.scopeSpans) for (const span of scope.spans) spans.push({ ...span, service });
    }
  }
  return spans;
}

const attribute = (span: OtlpSpan, key: string): string | number | undefined => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

async function eventually<T>(what: string, find: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`${what}: not within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('OpenTelemetry tracing (OTLP over HTTP, JSON)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tracing-'));
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let berth: RegistryProcess;
  const log: string[] = [];

  before(async () => {
    receiver = await startReceiver();
    berth = await startRegistryProcess(
      dir,
      await freePort(),
      {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: 'berth-under-test',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        REGISTRY_LOG_LEVEL: 'info',
      },
      { stdout: 'pipe' },
    );
    berth.child.stdout?.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
  });
  after(async () => {
    await berth.stop();
    await new Promise((resolve) => receiver.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET manifest with a traceparent: a SERVER span named by the endpoint id, child of the caller, with a metadata-store child', async () => {
    const image = await pushImage(berth.url, 'traced/app', 'v1');
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const response = await fetch(`${berth.url}/v2/traced/app/manifests/v1`, { headers: { Accept: image.manifest.mediaType, traceparent: `00-${traceId}-${parentId}-01` } });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const requestId = response.headers.get('x-request-id');
    const server = await eventually('the request span', () => jsonSpans(receiver.received).find((span) => span.traceId === traceId && span.kind === 2));
    assert.equal(server.name, 'GET end-3');
    assert.equal(server.parentSpanId, parentId);
    assert.equal(server.service, 'berth-under-test');
    assert.equal(attribute(server, 'http.route'), 'end-3');
    assert.equal(attribute(server, 'http.request.method'), 'GET');
    assert.equal(attribute(server, 'http.response.status_code'), 200);
    assert.equal(attribute(server, 'url.path'), '/v2/traced/app/manifests/v1');
    assert.equal(attribute(server, 'berth.request_id'), requestId);
    const child = await eventually('the metadata span', () => jsonSpans(receiver.received).find((span) => span.traceId === traceId && span.name === 'metadata getManifestByTag'));
    assert.equal(child.parentSpanId, server.spanId);
    assert.equal(attribute(child, 'db.system.name'), 'sqlite');
    assert.equal(attribute(child, 'db.operation.name'), 'getManifestByTag');
    // The access log line of the request carries its trace id.
    await eventually('the access log line', () => log.join('').split('\n').find((line) => line.includes(`"reqId":"${requestId}"`) && line.includes(`"trace_id":"${traceId}"`)));
  });

  it('a push without traceparent: root SERVER spans with storage and metadata children; a 404 is not an error span, a 5xx would be', async () => {
    await pushImage(berth.url, 'traced/other', 'v1');
    const spans = await eventually('a blob upload span with a storage child', () => {
      const all = jsonSpans(receiver.received);
      const upload = all.find((span) => span.name === 'POST end-4' && all.some((child) => child.parentSpanId === span.spanId && child.name.startsWith('storage ')));
      return upload === undefined ? undefined : { upload, all };
    });
    assert.equal(spans.upload.parentSpanId ?? '', '');
    const children = spans.all.filter((span) => span.parentSpanId === spans.upload.spanId).map((span) => span.name);
    assert.ok(children.includes('storage commitBytes'), children.join(', '));
    assert.ok(children.includes('metadata linkBlob'), children.join(', '));
    const missing = await fetch(`${berth.url}/v2/traced/other/manifests/nope`);
    await missing.arrayBuffer();
    const notFound = await eventually('the 404 span', () => jsonSpans(receiver.received).find((span) => span.name === 'GET end-3' && attribute(span, 'http.response.status_code') === 404));
    assert.notEqual(notFound.status?.code, 2);
  });
});

describe('OpenTelemetry tracing (OTLP over HTTP, protobuf: the default protocol)', () => {
  it('the exporter posts application/x-protobuf to /v1/traces with the request span', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tracing-proto-'));
    const receiver = await startReceiver();
    const berth = await startRegistryProcess(dir, await freePort(), { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '100' });
    try {
      const traceId = randomBytes(16).toString('hex');
      await (await fetch(`${berth.url}/v2/`, { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } })).arrayBuffer();
      const message = await eventually('a protobuf export with the span', () =>
        receiver.received.find((entry) => entry.body.includes(Buffer.from(traceId, 'hex')) && entry.body.includes(Buffer.from('GET end-1'))),
      );
      assert.equal(message.contentType, 'application/x-protobuf');
    } finally {
      await berth.stop();
      await new Promise((resolve) => receiver.server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
