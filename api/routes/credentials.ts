import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createCredentialHandlers } from './credentials.handlers.js';
import * as routes from './credentials.routes.js';

/** Key pickup and rotation: contracts in credentials.routes.ts, behaviour in credentials.handlers.ts. */
export function credentialRoutes(deps: AppDeps) {
  const handlers = createCredentialHandlers(deps);
  return createRouter()
    .openapi(routes.pickup, handlers.pickup)
    .openapi(routes.rotate, handlers.rotate);
}
