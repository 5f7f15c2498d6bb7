import type { GatewayRoutes } from '../../config/gateway-routes.js';
import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createGovernanceHandlers } from './governance.handlers.js';
import * as routes from './governance.routes.js';

/** Governance reports: the contract in governance.routes.ts, behaviour in governance.handlers.ts. */
export function governanceRoutes(deps: AppDeps, gatewayRoutes: () => GatewayRoutes) {
  const handlers = createGovernanceHandlers(deps, gatewayRoutes);
  return createRouter().openapi(routes.drift, handlers.drift);
}
