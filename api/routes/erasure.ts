import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createErasureHandlers } from './erasure.handlers.js';
import * as routes from './erasure.routes.js';

/** Erasure on request: the contract in erasure.routes.ts, behaviour in erasure.handlers.ts. */
export function erasureRoutes(deps: AppDeps) {
  return createRouter().openapi(routes.erase, createErasureHandlers(deps).erase);
}
