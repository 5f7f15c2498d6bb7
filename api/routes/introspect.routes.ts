import { createRoute } from '@hono/zod-openapi';
import { introspectionRequestSchema, introspectionResponseSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

export const introspect = createRoute({
  method: 'post',
  path: '/',
  summary: 'Is this API key active? (gateway; RFC 7662 in spirit). Inactive reveals only a reason for gateway logs.',
  security: bearerSecurity,
  middleware: [requireRole('gateway')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: introspectionRequestSchema } } } },
  responses: {
    200: { description: 'The verdict', content: { 'application/json': { schema: introspectionResponseSchema } } },
    ...problemResponses(400, 401, 403, 413, 415, 429),
  },
});
