import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createHealthHandlers } from './health.handlers.js';
import * as routes from './health.routes.js';

/** Liveness and readiness: contracts in health.routes.ts, behaviour in health.handlers.ts. */
export function healthRoutes(deps: AppDeps) {
  const handlers = createHealthHandlers(deps);
  return createRouter()
    .openapi(routes.health, handlers.health)
    .openapi(routes.ready, handlers.ready);
}
