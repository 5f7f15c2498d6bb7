import type { GatewayRoutes } from '../../config/gateway-routes.js';
import type { AppDeps } from '../deps.js';
import { driftReport } from '../governance.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './governance.routes.js';

export function createGovernanceHandlers(deps: AppDeps, gatewayRoutes: () => GatewayRoutes) {
  const drift: AppRouteHandler<typeof routes.drift> = async (c) => c.json(await driftReport(deps.db, deps.policy(), gatewayRoutes()), 200);
  return { drift };
}
