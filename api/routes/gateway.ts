import type { GatewayRoutes } from '../../config/gateway-routes.js';
import type { AppDeps } from '../deps.js';
import type { RateLimiter } from '../rate-limit.js';
import { createRouter } from '../router.js';
import type { UsageRecorder } from '../usage.js';
import { createGatewayHandlers } from './gateway.handlers.js';
import * as routes from './gateway.routes.js';

/** The gateways' routes: the contracts in gateway.routes.ts, behaviour in gateway.handlers.ts. */
export function gatewayRoutes(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder, gatewayConfig: () => GatewayRoutes) {
  const handlers = createGatewayHandlers(deps, limiter, usage, gatewayConfig);
  return createRouter()
    .openapi(routes.auth, handlers.auth)
    .openapi(routes.verdict, handlers.verdict)
    .openapi(routes.usage, handlers.reportUsage)
    .openapi(routes.changes, handlers.changes);
}
