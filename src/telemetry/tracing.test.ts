// Which OTEL_* settings turn tracing on, and the log mixin's ids.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTracing, tracesExporter } from './tracing.js';

test('tracing is off unless an exporter or an OTLP endpoint is named; none and OTEL_SDK_DISABLED turn it off', () => {
  assert.equal(tracesExporter({}), undefined);
  assert.equal(tracesExporter({ OTEL_SERVICE_NAME: 'x' }), undefined);
  assert.equal(tracesExporter({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), 'otlp');
  assert.equal(tracesExporter({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }), 'otlp');
  assert.equal(tracesExporter({ OTEL_TRACES_EXPORTER: 'otlp' }), 'otlp');
  assert.equal(tracesExporter({ OTEL_TRACES_EXPORTER: 'console' }), 'console');
  assert.equal(tracesExporter({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' }), undefined);
  assert.equal(tracesExporter({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }), undefined);
  assert.throws(() => tracesExporter({ OTEL_TRACES_EXPORTER: 'jaeger' }), { name: 'ConfigError' });
});

test('loadTracing with nothing asked for loads nothing; gRPC is refused with a ConfigError', async () => {
  assert.equal(await loadTracing({}, '0'), undefined);
  await assert.rejects(loadTracing({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, '0'), { name: 'ConfigError' });
});

test('inside a request span, the log mixin gives its trace and span ids; outside, nothing', async () => {
  const tracing = await loadTracing({ OTEL_TRACES_EXPORTER: 'console', OTEL_TRACES_SAMPLER: 'always_off' }, '0');
  assert.ok(tracing !== undefined);
  try {
    const span = tracing.startRequest('GET', '/v2/', { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00` }, 'id');
    assert.equal(span.traceId, 'a'.repeat(32));
    const ids = span.run(() => tracing.logMixin());
    assert.equal(ids.trace_id, 'a'.repeat(32));
    assert.match(ids.span_id ?? '', /^[0-9a-f]{16}$/);
    assert.deepEqual(tracing.logMixin(), {});
    span.end('end-1', 200, false);
  } finally {
    await tracing.shutdown();
  }
});
