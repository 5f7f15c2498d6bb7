import type { Context } from 'hono';
import type { z } from '@hono/zod-openapi';
import { parseApiKey } from '../../domain/api-key.js';
import { rateLimits } from '../../config/limits.js';
import type { introspectionRequestSchema } from '../../schema/api.js';
import type { AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { keyVerdict, type Introspection } from '../introspection.js';
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

  /**
   * The verdict on a gateway's question, its failure budget and usage evidence: the one answer of
   * the route and of its lean path. Without a promise where nothing waits (an active key on SQLite).
   */
  const judge = (c: Context<AppEnv>, { token, environment, scope }: IntrospectionRequest): Introspection | Promise<Introspection> => {
    const judged = keyVerdict(deps.db, deps.policy(), token, environment);
    return judged instanceof Promise ? judged.then((result) => settle(c, result, token, scope)) : settle(c, judged, token, scope);
  };
  const settle = (c: Context<AppEnv>, result: Introspection, token: string, scope: string | undefined): Introspection | Promise<Introspection> => {
    deps.metrics?.verdict('introspect', result.active ? 'active' : result.reason);
    if (!result.active) {
      // Guessing keys through a gateway token: failures per source are limited.
      return failures.spend(sourceOf(c)).then((decision) => {
        if (!decision.ok) throw problems.tooMany(decision.retryAfterSeconds);
        return result;
      });
    }
    const parsed = parseApiKey(token);
    if (parsed.ok) usage.record(parsed.keyId, scope);
    return result;
  };

  const introspectKey: AppRouteHandler<typeof routes.introspect> = async (c) => c.json(await judge(c, c.req.valid('json')), 200);

  return { introspect: introspectKey, judge };
}

export type IntrospectionJudge = ReturnType<typeof createIntrospectHandlers>['judge'];
