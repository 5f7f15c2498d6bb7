import type { Context } from 'hono';
import type { z } from '@hono/zod-openapi';
import { parseApiKey } from '../../domain/api-key.js';
import { rateLimits } from '../../config/limits.js';
import type { introspectionRequestSchema } from '../../schema/api.js';
import type { AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { keyVerdict } from '../introspection.js';
import { problems } from '../problem.js';
import { failureBudget, sourceOf, type RateLimiter } from '../rate-limit.js';
import type { AppRouteHandler } from '../router.js';
import type { UsageRecorder } from '../usage.js';
import type * as routes from './introspect.routes.js';

export type IntrospectionRequest = z.infer<typeof introspectionRequestSchema>;

export function createIntrospectHandlers(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder) {
  // Its caller is a gateway: only failures are refused over the budget (refusing valid keys too
  // would cut off every partner behind that gateway); the edge budgets per client instead.
  const failures = failureBudget(limiter, 'introspect-failures', rateLimits(deps.limits).introspectionFailuresPerMinute);

  /** The verdict on a gateway's question, its failure budget and usage evidence: the one answer of the route and of its lean path. */
  const answer = async (c: Context<AppEnv>, { token, environment, scope }: IntrospectionRequest) => {
    const judged = keyVerdict(deps.db, deps.policy(), token, environment);
    const result = judged instanceof Promise ? await judged : judged;
    deps.metrics?.verdict('introspect', result.active ? 'active' : result.reason);
    if (!result.active) {
      // Guessing keys through a gateway token: failures per source are limited.
      const decision = await failures.spend(sourceOf(c));
      if (!decision.ok) throw problems.tooMany(decision.retryAfterSeconds);
      return c.json(result, 200);
    }
    const parsed = parseApiKey(token);
    if (parsed.ok) usage.record(parsed.keyId, scope);
    return c.json(result, 200);
  };

  const introspectKey: AppRouteHandler<typeof routes.introspect> = (c) => answer(c, c.req.valid('json'));

  return { introspect: introspectKey, answer };
}

export type IntrospectionAnswer = ReturnType<typeof createIntrospectHandlers>['answer'];
