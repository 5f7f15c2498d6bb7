import type { AppDeps } from '../deps.js';
import type { RateLimiter } from '../rate-limit.js';
import { createRouter } from '../router.js';
import { createPartnerHandlers } from './partners.handlers.js';
import * as routes from './partners.routes.js';

/** Submitting an onboarding request and reading a partner: contracts in partners.routes.ts, behaviour in partners.handlers.ts. */
export function partnerRoutes(deps: AppDeps, limiter: RateLimiter) {
  const handlers = createPartnerHandlers(deps, limiter);
  return createRouter()
    .openapi(routes.submit, handlers.submit)
    .openapi(routes.get, handlers.get);
}
