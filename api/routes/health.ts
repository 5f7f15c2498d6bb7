import { createRoute } from '@hono/zod-openapi';
import { healthSchema, readinessSchema } from '../../schema/api.js';
import type { AppDeps } from '../deps.js';
import { databaseAnswers } from '../../schema/ping.js';
import { createRouter } from '../router.js';

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process answers',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: healthSchema } } } },
});
const readyRoute = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: the database and Temporal are reachable',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: readinessSchema } } },
    503: { description: 'Not ready', content: { 'application/json': { schema: readinessSchema } } },
  },
});

export function healthRoutes(deps: AppDeps) {
  const app = createRouter();
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' }, 200));
  app.openapi(readyRoute, async (c) => {
    const database = await databaseAnswers(deps.db);
    const { client } = deps.temporal;
    const temporal = await client
      .withDeadline(Date.now() + 2000, () => client.workflowService.getSystemInfo({}))
      .then(() => true)
      .catch(() => false);
    const ready = database && temporal;
    return c.json({ status: ready ? ('ready' as const) : ('not_ready' as const), checks: { database, temporal } }, ready ? 200 : 503);
  });
  return app;
}
