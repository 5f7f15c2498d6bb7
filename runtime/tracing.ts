/**
 * OpenTelemetry traces, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set (otherwise nothing here is
 * installed, and no span is made anywhere). One trace per API request: the HTTP span
 * (`tracedFetch`), the Temporal client's start / Update / signal span, the workflow's spans and its
 * activities' (the Temporal OpenTelemetry interceptors, which carry the context in Temporal
 * headers), exported over OTLP/HTTP (JSON) to `<endpoint>/v1/traces`.
 *
 * Spans carry names, ids and timings: never a header, a body or a payload (keys, tokens, reasons).
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';

export interface Tracing {
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** flushes what is buffered and stops exporting */
  shutdown(): Promise<void>;
}

let installed: Tracing | undefined;

/**
 * Installs the process's tracer provider (one per process: `npm start` runs the API and the worker
 * in one) when `endpoint` is set; undefined otherwise.
 */
export function startTracing(endpoint: string | undefined, serviceName: string): Tracing | undefined {
  if (!endpoint) return undefined;
  if (installed) return installed;
  const resource = new Resource({ 'service.name': serviceName });
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // the AsyncLocalStorage context manager and the W3C trace-context propagator
  provider.register();
  installed = {
    spanProcessor,
    resource,
    async shutdown() {
      installed = undefined;
      await provider.shutdown();
    },
  };
  return installed;
}

const tracer = () => trace.getTracer('partner-access');

type Fetch = (request: Request, ...rest: any[]) => Response | Promise<Response>;

/**
 * The HTTP server span around the app: a caller's `traceparent` is continued, and the span is the
 * active context while the app runs, so the Temporal client's spans are its children.
 */
export function tracedFetch(fetch: Fetch): Fetch {
  return (request, ...rest) => {
    const parent = propagation.extract(context.active(), Object.fromEntries(request.headers));
    const { pathname } = new URL(request.url);
    return tracer().startActiveSpan(`${request.method} ${pathname}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': pathname } }, parent, async (span) => {
      try {
        const response = await fetch(request, ...rest);
        span.setAttribute('http.response.status_code', response.status);
        const requestId = response.headers.get('x-request-id');
        if (requestId) span.setAttribute('partner_access.request_id', requestId);
        if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        return response;
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
        throw err;
      } finally {
        span.end();
      }
    });
  };
}

/** The Temporal client's spans (start, Update, signal, query), their context passed in headers. */
export const tracingClientInterceptors = (tracing: Tracing | undefined): WorkflowClientInterceptor[] =>
  tracing ? [new OpenTelemetryWorkflowClientInterceptor()] : [];

/** The activities' spans, children of the workflow span that scheduled them. */
export const tracingActivityInterceptors = (tracing: Tracing | undefined): ActivityInterceptorsFactory[] =>
  tracing ? [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })] : [];

/** The workflow's spans are made in its sandbox and leave it through this sink. */
export const tracingSinks = (tracing: Tracing | undefined): InjectedSinks<any> =>
  tracing ? { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) } : {};

/** The workflow interceptor module of the Temporal OpenTelemetry package (bundled only when tracing). */
export const tracingWorkflowModule = path.join(path.dirname(createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry')), 'workflow-interceptors.js');
