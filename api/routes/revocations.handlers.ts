import type { AppDeps } from '../deps.js';
import { bulkRevoke as containment } from '../lifecycle-commands.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './revocations.routes.js';

export function createRevocationHandlers(deps: AppDeps) {
  // bulk containment and its dry run: the service in api/lifecycle-commands.ts (the console's security page calls it too)
  const bulkRevoke: AppRouteHandler<typeof routes.bulkRevoke> = async (c) => c.json(await containment(deps, c.get('principal'), c.req.valid('json'), c.get('log')), 200);

  return { bulkRevoke };
}
