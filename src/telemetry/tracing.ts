// OpenTelemetry tracing, configured as distribution v3 does with the standard OTEL_* variables
// (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, OTEL_SDK_DISABLED). Off unless
// an exporter is asked for (OTEL_TRACES_EXPORTER=otlp|console, or an OTLP endpoint is set). Off,
// nothing of the SDK is loaded (its modules are imported here, dynamically, only when on) and the
// request path does no tracing work: callers hold `undefined`.
//
// On: a SERVER span per request named by the endpoint id, parented by an incoming W3C
// `traceparent`; child spans for metadata-store and storage calls made inside it (instrument.ts);
// `traceUpstream` for calls to other registries; and log lines written inside a request carry
// `trace_id` and `span_id` (the pino mixin).
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import { ConfigError } from '../config/load.js';
import type { ActionProbe } from './instrument.js';

/** The request's span, as the HTTP layer sees it. */
export interface RequestSpan {
  readonly traceId: string;
  /** Runs `work` with this span active (child spans and log lines find it). */
  run<T>(work: () => T): T;
  /** Ends the span: named by the endpoint id, with the response status. */
  end(route: string, status: number, aborted: boolean): void;
}

export interface Tracing {
  /** `headers`: the request's (for traceparent/tracestate). */
  startRequest(method: string | undefined, path: string, headers: Readonly<Record<string, string | string[] | undefined>>, requestId: string): RequestSpan;
  /** Child spans of storage or metadata calls, for instrument(); only inside a traced request. */
  probe(layer: 'storage' | 'metadata', backend: string): ActionProbe;
  /** pino's mixin: the active span's ids. */
  logMixin(): Record<string, string>;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

let active: { tracer: Tracer; api: typeof import('@opentelemetry/api') } | undefined;

/**
 * A span around a call to an upstream registry (the pull-through cache), child of the request's.
 * Without tracing, `work` runs as it is.
 */
export async function traceUpstream<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  if (active === undefined) return work();
  const { tracer, api } = active;
  return tracer.startActiveSpan(name, { kind: api.SpanKind.CLIENT, attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

type Env = Readonly<Record<string, string | undefined>>;

/** Which exporter the environment asks for, or undefined when tracing is off. */
export function tracesExporter(env: Env): 'otlp' | 'console' | undefined {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return undefined;
  const named = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((part) => part.trim().toLowerCase()).filter((part) => part !== '');
  if (named.length === 0) return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : undefined;
  if (named.includes('none')) return undefined;
  const [first] = named;
  if (first !== 'otlp' && first !== 'console') throw new ConfigError(`${first} is not supported (otlp, console or none)`, 'OTEL_TRACES_EXPORTER');
  return first;
}

export async function loadTracing(env: Env, version: string): Promise<Tracing | undefined> {
  const exporterKind = tracesExporter(env);
  if (exporterKind === undefined) return undefined;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  if (exporterKind === 'otlp' && protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new ConfigError(`${protocol} is not supported (http/protobuf or http/json)`, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  }
  const api = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = await import('@opentelemetry/core');
  const { detectResources, envDetector, resourceFromAttributes } = await import('@opentelemetry/resources');
  const sdk = await import('@opentelemetry/sdk-trace');
  const exporter =
    exporterKind === 'console'
      ? new sdk.ConsoleSpanExporter()
      : protocol === 'http/json'
        ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
        : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  const number = (name: string): number | undefined => {
    const value = env[name];
    return value === undefined || value === '' || !Number.isFinite(Number(value)) ? undefined : Number(value);
  };
  const processor = new sdk.BatchSpanProcessor({
    exporter,
    scheduledDelayMillis: number('OTEL_BSP_SCHEDULE_DELAY') ?? 5000,
    maxQueueSize: number('OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048,
    maxExportBatchSize: number('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512,
    exportTimeoutMillis: number('OTEL_BSP_EXPORT_TIMEOUT') ?? 30_000,
  });
  const resource = resourceFromAttributes({ 'service.name': 'berth', 'service.version': version }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new sdk.TracerProvider({ resource, sampler: samplerFrom(env, sdk), spanProcessors: [processor] });
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  api.context.setGlobalContextManager(contextManager);
  api.trace.setGlobalTracerProvider(provider);
  const propagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });
  api.propagation.setGlobalPropagator(propagator);
  const tracer = provider.getTracer('berth', version);
  active = { tracer, api };
  const { context, trace, SpanKind, SpanStatusCode, ROOT_CONTEXT } = api;
  const getter = {
    keys: (carrier: Readonly<Record<string, string | string[] | undefined>>) => Object.keys(carrier),
    get: (carrier: Readonly<Record<string, string | string[] | undefined>>, key: string) => carrier[key],
  };

  return {
    startRequest(method, path, headers, requestId) {
      const parent: Context = propagator.extract(ROOT_CONTEXT, headers, getter);
      const span: Span = tracer.startSpan(
        'request',
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': method ?? '', 'url.path': path, 'user_agent.original': String(headers['user-agent'] ?? ''), 'berth.request_id': requestId } },
        parent,
      );
      const spanContext = trace.setSpan(parent, span);
      return {
        traceId: span.spanContext().traceId,
        run: (work) => context.with(spanContext, work),
        end(route, status, aborted) {
          span.updateName(`${method ?? ''} ${route}`);
          span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
          if (status >= 500 || aborted) span.setStatus({ code: SpanStatusCode.ERROR, ...(aborted ? { message: 'connection closed before the response ended' } : {}) });
          span.end();
        },
      };
    },
    probe(layer, backend) {
      return (action) => {
        const name = `${layer} ${action}`;
        const attributes: Attributes = layer === 'metadata' ? { 'db.system.name': backend, 'db.operation.name': action } : { 'berth.storage.driver': backend, 'berth.storage.action': action };
        return () => {
          const parent = context.active();
          if (trace.getSpan(parent) === undefined) return () => undefined;
          const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
          return (failed) => {
            if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
          };
        };
      };
    },
    logMixin(): Record<string, string> {
      const span = trace.getSpan(context.active());
      if (span === undefined) return {};
      const ids = span.spanContext();
      return { trace_id: ids.traceId, span_id: ids.spanId };
    },
    async shutdown() {
      active = undefined;
      await provider.shutdown();
      contextManager.disable();
    },
  };
}

function samplerFrom(env: Env, sdk: typeof import('@opentelemetry/sdk-trace')): import('@opentelemetry/sdk-trace').Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  const ratioSampler = (): import('@opentelemetry/sdk-trace').Sampler => new sdk.TraceIdRatioBasedSampler(Number.isFinite(ratio) ? Math.min(Math.max(ratio, 0), 1) : 1);
  switch (name) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return ratioSampler();
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: ratioSampler() });
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    default:
      throw new ConfigError(`${name} is not supported`, 'OTEL_TRACES_SAMPLER');
  }
}
