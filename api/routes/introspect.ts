import type { AppDeps } from '../deps.js';
import type { RateLimiter } from '../rate-limit.js';
import { createRouter } from '../router.js';
import type { UsageRecorder } from '../usage.js';
import { createIntrospectHandlers } from './introspect.handlers.js';
import * as routes from './introspect.routes.js';

/** Introspection for gateways: the contract in introspect.routes.ts, behaviour in introspect.handlers.ts. */
export function introspectRoutes(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder) {
  const handlers = createIntrospectHandlers(deps, limiter, usage);
  return createRouter().openapi(routes.introspect, handlers.introspect);
}
