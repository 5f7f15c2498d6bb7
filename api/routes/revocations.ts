import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createRevocationHandlers } from './revocations.handlers.js';
import * as routes from './revocations.routes.js';

/** Bulk containment: the contract in revocations.routes.ts, behaviour in revocations.handlers.ts. */
export function revocationRoutes(deps: AppDeps) {
  const handlers = createRevocationHandlers(deps);
  return createRouter().openapi(routes.bulkRevoke, handlers.bulkRevoke);
}
