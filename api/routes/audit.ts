import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createAuditHandlers } from './audit.handlers.js';
import * as routes from './audit.routes.js';

/** The audit export and chain check: contracts in audit.routes.ts, behaviour in audit.handlers.ts. */
export function auditRoutes(deps: AppDeps) {
  const handlers = createAuditHandlers(deps);
  return createRouter()
    .openapi(routes.exportEvents, handlers.exportEvents)
    .openapi(routes.verify, handlers.verify);
}
