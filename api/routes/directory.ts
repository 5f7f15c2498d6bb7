import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createDirectoryHandlers } from './directory.handlers.js';
import * as routes from './directory.routes.js';

/** The partner list, a partner's timeline and the operator's inbox: contracts in directory.routes.ts, behaviour in directory.handlers.ts. */
export function directoryRoutes(deps: AppDeps) {
  const handlers = createDirectoryHandlers(deps);
  return createRouter()
    .openapi(routes.list, handlers.list)
    .openapi(routes.timeline, handlers.timeline)
    .openapi(routes.inbox, handlers.inbox);
}
