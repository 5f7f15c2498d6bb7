import { randomUUID } from 'node:crypto';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { authenticator } from './auth.js';
import { corsHeaders, fixedResponseHeaders, responseHeaders } from './headers.js';
import { rejectUnsupportedMethods } from './methods.js';
import { withAuthenticationResponses } from './openapi.js';
import type { AppDeps } from './deps.js';
import { mapTemporalError } from './temporal-errors.js';
import { requestScope } from './request-scope.js';
import { isRequestId } from '../domain/request-id.js';
import { Problem, problemResponse, problems } from './problem.js';
import { healthRoutes } from './routes/health.js';
import { credentialRoutes } from './routes/credentials.js';
import { lifecycleRoutes } from './routes/lifecycle.js';
import { partnerRoutes } from './routes/partners.js';
import { auditRoutes } from './routes/audit.js';
import { directoryRoutes } from './routes/directory.js';
import { docsRoutes } from './routes/docs.js';
import { introspection } from './routes/introspect.js';
import { gatewayRoutes } from './routes/gateway.js';
import { loadGatewayRoutes } from '../config/gateway-routes.js';
import { revocationRoutes } from './routes/revocations.js';
import { operatorRoutes } from './routes/operators.js';
import { pageRoutes } from './pages/index.js';
import { notificationRoutes } from './routes/notifications.js';
import { governanceRoutes } from './routes/governance.js';
import { erasureRoutes } from './routes/erasure.js';
import { InMemoryRateLimiter, resolveClientAddress } from './rate-limit.js';
import { rateLimits } from '../config/limits.js';
import { UsageRecorder } from './usage.js';
import { jsonBody } from './body.js';
import { createRouter } from './router.js';
import { isTransientDatabaseError } from '../schema/db.js';
import { countingRefusals, gatewayVerdicts, httpMetrics } from './metrics.js';

export type App = ReturnType<typeof createApp>;

/** The HTTP API. Dependencies come in; nothing here reaches for globals. */
export function createApp(deps: AppDeps) {
  const app = createRouter();
  // metrics only when a registry is given (METRICS_PORT): otherwise nothing is counted
  const { metrics } = deps;
  metrics?.observeOutbox(deps.db, deps.logger);
  const budgets = deps.rateLimiter ?? new InMemoryRateLimiter();
  const limiter = metrics ? countingRefusals(budgets, metrics) : budgets;

  // before anything else: every answer is counted and timed, refusals included
  if (metrics) app.use('*', httpMetrics(metrics));

  // first: every budget and log after this knows the client (X-Forwarded-For via trusted proxies only)
  app.use('*', resolveClientAddress(deps.trustedProxies));
  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = isRequestId(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    // every log line of the request carries its id
    c.set('log', deps.logger.child({ requestId }));
    c.header('X-Request-Id', requestId);
    const started = performance.now();
    // the request's id reaches what it calls without a context: the Temporal client carries it on (runtime/request-context.ts)
    await requestScope.run(requestId, next);
    c.get('log').info(
      { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) },
      'request',
    );
  });
  const headerMiddlewares = [
    secureHeaders({ crossOriginResourcePolicy: 'same-origin' }),
    responseHeaders,
    // CORS is closed unless origins are configured.
    corsHeaders(deps.corsOrigins ?? [], ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-API-Key']),
  ];
  const maxBodyBytes = deps.bodyLimitBytes ?? 64 * 1024;
  const auth = authenticator(deps.db, { limiter, failuresPerMinute: rateLimits(deps.limits).authFailuresPerMinute });
  const usage = deps.usage ?? new UsageRecorder(deps.db);
  const introspect = introspection(deps, limiter, usage);
  // a gateway's hottest question answered before the rest (api/routes/introspect.lean.ts), with these middlewares' headers
  app.post('/v1/introspect', introspect.lean({ principalOf: auth.principalOf, maxBodyBytes, headers: fixedResponseHeaders(headerMiddlewares) }));
  for (const middleware of headerMiddlewares) app.use('*', middleware);
  app.use('*', rejectUnsupportedMethods(app));
  app.use('/v1/*', jsonBody(maxBodyBytes));
  app.use('/v1/*', auth.middleware);

  app.route('/', healthRoutes(deps));
  app.route('/v1', directoryRoutes(deps));
  app.route('/v1/partners', partnerRoutes(deps, limiter));
  app.route('/v1/partners', lifecycleRoutes(deps, limiter));
  app.route('/v1/partners', credentialRoutes(deps));
  app.route('/v1', revocationRoutes(deps));
  app.route('/v1/introspect', introspect.routes);
  app.route('/v1', auditRoutes(deps));
  app.route('/v1', operatorRoutes(deps));
  app.route('/v1', notificationRoutes(deps));
  app.route('/v1', erasureRoutes(deps));
  const gatewayConfig = loadGatewayRoutes(deps.gatewayRoutesFile ?? 'gateway/routes.json');
  app.route('/v1', governanceRoutes(deps, () => gatewayConfig));
  if (metrics) {
    app.use('/v1/gateway/auth', gatewayVerdicts(metrics, 'gateway_auth'));
    app.use('/v1/gateway/verdict', gatewayVerdicts(metrics, 'gateway_verdict'));
  }
  app.route('/v1/gateway', gatewayRoutes(deps, limiter, usage, () => gatewayConfig));

  const openApiConfig = {
    openapi: '3.1.0',
    info: { title: 'partner-access', version: '0.1.0', description: 'Partner API access lifecycle: onboarding, approval, credentials, recertification, revocation.' },
  };
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  const openApiDocument = () => withAuthenticationResponses(app.getOpenAPI31Document(openApiConfig));
  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  app.route('/', docsRoutes(() => openApiDocument() as never));
  app.route('/', pageRoutes(deps, limiter, () => gatewayConfig));

  app.notFound((c) => problemResponse(c, problems.notFound(`no route ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => {
    if (err instanceof Problem) return problemResponse(c, err);
    const mapped = mapTemporalError(err);
    if (mapped) return problemResponse(c, mapped);
    if (err instanceof HTTPException) {
      return problemResponse(c, new Problem(err.status as Problem['status'], err.message || 'Error', err.message || undefined));
    }
    if (err instanceof SyntaxError) return problemResponse(c, problems.badRequest('the body is not valid JSON'));
    // busy, unreachable or a rolled-back conflict (schema/db.ts): nothing was changed, a retry is safe
    if (isTransientDatabaseError(err)) {
      deps.logger.warn({ requestId: c.get('requestId'), code: (err as { code?: unknown }).code, err: (err as Error).message }, 'database busy');
      return problemResponse(c, problems.unavailable('the database is busy; nothing was changed, retry shortly', 1));
    }
    deps.logger.error({ err, requestId: c.get('requestId') }, 'unhandled error');
    return problemResponse(c, new Problem(500, 'Internal Server Error', 'an internal error occurred; it was logged with this request id'));
  });
  return app;
}
