import { createRoute } from '@hono/zod-openapi';
import { parseApiKey } from '../../domain/api-key.js';
import { introspectionRequestSchema, introspectionResponseSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { introspect } from '../introspection.js';
import type { UsageRecorder } from '../usage.js';
import { bearerSecurity, problemResponses } from '../openapi.js';
import { problems } from '../problem.js';
import { failureBudget, sourceOf, type RateLimiter } from '../rate-limit.js';
import { rateLimits } from '../../config/limits.js';
import { createRouter } from '../router.js';

const route = createRoute({
  method: 'post',
  path: '/',
  summary: 'Is this API key active? (gateway; RFC 7662 in spirit). Inactive reveals only a reason for gateway logs.',
  security: bearerSecurity,
  middleware: [requireRole('gateway')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: introspectionRequestSchema } } } },
  responses: {
    200: { description: 'The verdict', content: { 'application/json': { schema: introspectionResponseSchema } } },
    ...problemResponses(400, 401, 403, 413, 415, 429),
  },
});

export function introspectRoutes(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder) {
  const app = createRouter();
  // Its caller is a gateway: only failures are refused over the budget (refusing valid keys too
  // would cut off every partner behind that gateway); the edge budgets per client instead.
  const failures = failureBudget(limiter, 'introspect-failures', rateLimits(deps.limits).introspectionFailuresPerMinute);
  app.openapi(route, async (c) => {
    const { token, environment, scope } = c.req.valid('json');
    // Guessing keys through a gateway token: failures per source are limited.
    const source = sourceOf(c);
    const result = await introspect(deps.db, deps.policy(), token, environment);
    deps.metrics?.verdict('introspect', result.active ? 'active' : result.reason);
    if (!result.active) {
      const decision = await failures.spend(source);
      if (!decision.ok) throw problems.tooMany(decision.retryAfterSeconds);
      return c.json(result, 200);
    }
    const parsed = parseApiKey(token);
    if (parsed.ok) usage.record(parsed.keyId, scope);
    return c.json(result, 200);
  });
  return app;
}
