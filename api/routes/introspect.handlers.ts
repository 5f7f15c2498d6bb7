import { parseApiKey } from '../../domain/api-key.js';
import { rateLimits } from '../../config/limits.js';
import type { AppDeps } from '../deps.js';
import { introspect } from '../introspection.js';
import { problems } from '../problem.js';
import { failureBudget, sourceOf, type RateLimiter } from '../rate-limit.js';
import type { AppRouteHandler } from '../router.js';
import type { UsageRecorder } from '../usage.js';
import type * as routes from './introspect.routes.js';

export function createIntrospectHandlers(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder) {
  // Its caller is a gateway: only failures are refused over the budget (refusing valid keys too
  // would cut off every partner behind that gateway); the edge budgets per client instead.
  const failures = failureBudget(limiter, 'introspect-failures', rateLimits(deps.limits).introspectionFailuresPerMinute);
  const introspectKey: AppRouteHandler<typeof routes.introspect> = async (c) => {
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
  };

  return { introspect: introspectKey };
}
