import type { AppDeps } from '../deps.js';
import type { RateLimiter } from '../rate-limit.js';
import { createRouter } from '../router.js';
import { createLifecycleHandlers } from './lifecycle.handlers.js';
import * as routes from './lifecycle.routes.js';

/** Decisions, recertifications, extensions, offboarding, emergency revocation, suspension, sponsor hand-over and rate tier: contracts in lifecycle.routes.ts, behaviour in lifecycle.handlers.ts. */
export function lifecycleRoutes(deps: AppDeps, limiter: RateLimiter) {
  const handlers = createLifecycleHandlers(deps, limiter);
  return createRouter()
    .openapi(routes.decide, handlers.decide)
    .openapi(routes.recertify, handlers.recertify)
    .openapi(routes.requestExtension, handlers.requestExtension)
    .openapi(routes.offboard, handlers.offboard)
    .openapi(routes.revoke, handlers.revoke)
    .openapi(routes.suspend, handlers.suspend)
    .openapi(routes.resume, handlers.resume)
    .openapi(routes.endSuspension, handlers.resume)
    .openapi(routes.changeSponsor, handlers.changeSponsor)
    .openapi(routes.changeRateTier, handlers.changeRateTier);
}
