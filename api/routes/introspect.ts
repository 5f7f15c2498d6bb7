import type { AppDeps } from '../deps.js';
import type { RateLimiter } from '../rate-limit.js';
import { createRouter } from '../router.js';
import type { UsageRecorder } from '../usage.js';
import { createIntrospectHandlers } from './introspect.handlers.js';
import { leanIntrospection, type LeanIntrospectionOptions } from './introspect.lean.js';
import * as routes from './introspect.routes.js';

/**
 * Introspection for gateways: the contract in introspect.routes.ts, behaviour in
 * introspect.handlers.ts, and the lean path that answers the ordinary question before the rest of
 * the app's middleware (introspect.lean.ts) with the same answer and the same budgets.
 */
export function introspection(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder) {
  const handlers = createIntrospectHandlers(deps, limiter, usage);
  return {
    routes: createRouter().openapi(routes.introspect, handlers.introspect),
    lean: (options: Omit<LeanIntrospectionOptions, 'judge'>) => leanIntrospection({ ...options, judge: handlers.judge }),
  };
}
