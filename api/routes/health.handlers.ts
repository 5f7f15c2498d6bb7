import { databaseAnswers } from '../../schema/ping.js';
import type { AppDeps } from '../deps.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './health.routes.js';

export function createHealthHandlers(deps: AppDeps) {
  const health: AppRouteHandler<typeof routes.health> = (c) => c.json({ status: 'ok' }, 200);

  const ready: AppRouteHandler<typeof routes.ready> = async (c) => {
    const database = await databaseAnswers(deps.db);
    const { client } = deps.temporal;
    const temporal = await client
      .withDeadline(Date.now() + 2000, () => client.workflowService.getSystemInfo({}))
      .then(() => true)
      .catch(() => false);
    const ready = database && temporal;
    return c.json({ status: ready ? ('ready' as const) : ('not_ready' as const), checks: { database, temporal }, policyVersion: deps.policy().version }, ready ? 200 : 503);
  };

  return { health, ready };
}
