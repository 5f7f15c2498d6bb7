import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createOperatorHandlers } from './operators.handlers.js';
import * as routes from './operators.routes.js';

/** Operator identities in the API (issue #16): the contract in operators.routes.ts, behaviour in operators.handlers.ts. */
export function operatorRoutes(deps: AppDeps) {
  const handlers = createOperatorHandlers(deps);
  return createRouter().openapi(routes.create, handlers.create).openapi(routes.list, handlers.list).openapi(routes.rotate, handlers.rotate).openapi(routes.revoke, handlers.revoke);
}
