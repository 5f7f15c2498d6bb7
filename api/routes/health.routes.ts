import { createRoute } from '@hono/zod-openapi';
import { healthSchema, readinessSchema } from '../../schema/api.js';

export const health = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process answers',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: healthSchema } } } },
});

export const ready = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: the database and Temporal are reachable',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: readinessSchema } } },
    503: { description: 'Not ready', content: { 'application/json': { schema: readinessSchema } } },
  },
});
