import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import { keyDeadReasons } from '../domain/key-liveness.js';
import { pathRefusals } from '../domain/request-path.js';
import type { Db } from '../schema/db.js';
import { pendingSignalCount } from '../schema/repositories/outbox.js';
import type { AppEnv, Principal } from './auth.js';
import type { RateDecision, RateLimiter } from './rate-limit.js';

/**
 * The API's Prometheus metrics (issue #17): a registry of its own, given to an app in
 * `AppDeps.metrics` (an app without one counts nothing), so two apps in one process (tests, the
 * benchmark) never share counters. Every label value comes from code, never from a request:
 * routes by their pattern (`/v1/partners/:id`), verdicts and budgets by their name, so the number
 * of series stays bounded whatever clients send. Served on a port of its own (`serveMetrics`),
 * not by the API: see README, Metrics.
 */
export class ApiMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'partner_access_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'partner_access_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly keyVerdicts = new Counter({
    name: 'partner_access_key_verdicts_total',
    help: 'Verdicts on presented API keys: introspection and the gateway endpoints, by verdict (active, allowed, or the reason of a refusal)',
    labelNames: ['endpoint', 'verdict'] as const,
    registers: [this.registry],
  });

  readonly revocations = new Counter({
    name: 'partner_access_revocations_total',
    help: 'Partners cut off by an emergency revocation (single or bulk)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly keyPickups = new Counter({
    name: 'partner_access_key_pickups_total',
    help: 'One-time key pickups, by outcome (picked_up, or gone: already picked up)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly rateLimitRefusals = new Counter({
    name: 'partner_access_rate_limit_refusals_total',
    help: 'Requests refused by a budget (a 429, or the gateway\'s 429 through 403 + X-Auth-Status), by budget',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });

  private outboxObserved = false;

  /**
   * `processMetrics`: also the Node process's own (CPU, memory, event-loop lag, GC) as
   * `partner_access_process_*` / `partner_access_nodejs_*`; for the API process, not for each app a
   * test or the benchmark makes (each collector observes the event loop and GC).
   */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'partner_access_' });
  }

  /** The outbox depth, counted in `db` at each scrape (once per registry: the first app's database). */
  observeOutbox(db: Db, logger?: Logger): void {
    if (this.outboxObserved) return;
    this.outboxObserved = true;
    new Gauge({
      name: 'partner_access_outbox_pending_signals',
      help: 'Signals for workflows written but not yet accepted by Temporal (pending_signals), read at each scrape',
      registers: [this.registry],
      // A scrape that finds the database busy keeps the last value rather than failing every metric.
      async collect() {
        try {
          this.set(await pendingSignalCount(db));
        } catch (err) {
          logger?.warn({ err: (err as Error).message }, 'metrics: counting the outbox failed');
        }
      },
    });
  }

  /** A verdict on a key: `active`/`allowed`, or the refusal's reason, folded to a bounded label. */
  verdict(endpoint: 'introspect' | 'gateway_auth' | 'gateway_verdict', verdict: string): void {
    this.keyVerdicts.inc({ endpoint, verdict: verdictLabel(verdict) });
  }
}

/**
 * Every verdict a label may name: a pass, a key's own reasons (api/introspection.ts,
 * domain/key-liveness.ts), a path the gateway refuses (domain/request-path.ts) and the gateway's
 * other refusals. Anything else is `other`, so no request can mint a series.
 */
const verdicts: ReadonlySet<string> = new Set([
  'active', 'allowed', 'missing', 'malformed', 'bad_checksum', 'unknown', ...keyDeadReasons, ...Object.keys(pathRefusals),
  'missing_scope', 'no_such_route', 'rate_limited', 'too_many_failed_keys', 'probe_key_active',
]);

/**
 * A reason as a label: the gateway's X-Auth-Reason texts carry a scope (`missing scope orders:read`)
 * or a detail in parentheses (`too many failed keys (unknown)`); both are dropped.
 */
export function verdictLabel(reason: string): string {
  const word = reason
    .replace(/\s*\(.*\)$/, '')
    .replace(/^missing scope\b.*/, 'missing scope')
    .replace(/[\s:]+/g, '_');
  return verdicts.has(word) ? word : 'other';
}

/**
 * Counts every request by its route pattern and status, and times it. First in the chain, so
 * refusals by authentication, budgets and body checks are counted too. A request no route
 * matched is `unmatched` (its raw path would be a series per path).
 */
export function httpMetrics(metrics: ApiMetrics): MiddlewareHandler {
  // each series' child looked up once: prom-client hashes the labels on every labelled call
  const series = new Map<string, { count: () => void; observe: (seconds: number) => void }>();
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // the last route matched: the handler's pattern; a wildcard means only middleware matched
      const pattern = routePath(c, -1);
      const route = pattern === '' || pattern.endsWith('*') ? 'unmatched' : pattern;
      const method = c.req.method;
      const status = String(c.res.status);
      const key = `${method} ${route} ${status}`;
      let s = series.get(key);
      if (!s) {
        const counter = metrics.httpRequests.labels(method, route, status);
        const histogram = metrics.httpDuration.labels(method, route);
        s = { count: () => counter.inc(), observe: (seconds) => histogram.observe(seconds) };
        series.set(key, s);
      }
      s.count();
      s.observe((performance.now() - started) / 1000);
    }
  };
}

/**
 * The gateway endpoints' verdicts, from what they already tell nginx: a pass (204 on /auth, 200 on
 * /verdict), else the reason in X-Auth-Reason, else a 429 (the failed-key budget). Read from the
 * answer, so the gateway's handlers stay as they are.
 */
export function gatewayVerdicts(metrics: ApiMetrics, endpoint: 'gateway_auth' | 'gateway_verdict'): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    // only answers to a gateway: its own token refused (or its budget) is no verdict on a key
    const principal = c.get('principal') as Principal | undefined;
    if (principal?.kind !== 'operator' || !principal.roles.includes('gateway')) return;
    const status = c.res.status;
    const reason =
      status === 204 || status === 200
        ? endpoint === 'gateway_auth' ? 'allowed' : 'active'
        : (c.res.headers.get('x-auth-reason') ?? (status === 429 ? 'too_many_failed_keys' : undefined));
    if (reason !== undefined) metrics.verdict(endpoint, reason);
  };
}

/**
 * A rate limiter that counts each refusal by its budget: the part of the key before the first `:`
 * (`onboarding`, `decisions`, `auth-failures`, `introspect-failures`, `gateway-failed-keys`,
 * `tier`), a name written in code. A refused `peek` is a failure budget refusing before the
 * credential is looked at; a refused `take` is a budget spent.
 */
export function countingRefusals(limiter: RateLimiter, metrics: ApiMetrics): RateLimiter {
  const counted = (key: string, decision: RateDecision) => {
    if (!decision.ok) metrics.rateLimitRefusals.inc({ budget: key.split(':', 1)[0]! });
    return decision;
  };
  return {
    take: async (key, limit, windowMs, now) => counted(key, await limiter.take(key, limit, windowMs, now)),
    peek: async (key, limit, windowMs, now) => counted(key, await limiter.peek(key, limit, windowMs, now)),
  };
}

/**
 * The metrics endpoint on a port of its own (METRICS_PORT, bound to METRICS_HOST: 127.0.0.1 by
 * default): Prometheus scrapes it without a token, so it must only be reachable from the
 * monitoring network, never through the API's public listener.
 */
export async function serveMetrics(metrics: ApiMetrics, host: string, port: number, logger?: Logger): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => {
        logger?.error({ err: (err as Error).message }, 'metrics: collecting failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
