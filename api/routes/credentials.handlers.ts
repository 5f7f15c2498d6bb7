import { pickUpIssuedKey, rotateKey } from '../credentials-service.js';
import type { AppDeps } from '../deps.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './credentials.routes.js';

/** Pickup and rotation: the rules and the one-time hand-out live in api/credentials-service.ts (the portal calls them too). */
export function createCredentialHandlers(deps: AppDeps) {
  const pickup: AppRouteHandler<typeof routes.pickup> = async (c) =>
    c.json(await pickUpIssuedKey(deps, c.get('principal'), c.req.valid('param').id, c.get('log')), 200);

  const rotate: AppRouteHandler<typeof routes.rotate> = async (c) =>
    c.json((await rotateKey(deps, c.get('principal'), c.req.valid('param').id, c.get('log'))).issued, 200);

  return { pickup, rotate };
}
