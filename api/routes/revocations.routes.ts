import { createRoute } from '@hono/zod-openapi';
import { bulkRevocationResultSchema, bulkRevocationSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

export const bulkRevoke = createRoute({
  method: 'post',
  path: '/revocations',
  summary: 'Bulk containment: revoke every live partner holding a scope, in an environment, or listed (dryRun lists them)',
  security: bearerSecurity,
  middleware: [requireRole('security')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: bulkRevocationSchema } } } },
  responses: {
    200: { description: 'Who would be (dryRun) or was cut off', content: { 'application/json': { schema: bulkRevocationResultSchema } } },
    ...problemResponses(400, 401, 403, 413, 415),
  },
});
