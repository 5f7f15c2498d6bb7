import { createRoute, z } from '@hono/zod-openapi';
import { erasureResultSchema, erasureSchema, partnerIdSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

export const erase = createRoute({
  method: 'post',
  path: '/partners/{id}/erasure',
  summary: 'Erase an ended partner’s name, contact and justification, and its notices, on request (admin; audited; the audit chain still verifies)',
  security: bearerSecurity,
  middleware: [requireRole('admin')] as const,
  request: { params: z.object({ id: partnerIdSchema }), body: { required: true, content: { 'application/json': { schema: erasureSchema } } } },
  responses: {
    200: { description: 'Erased (again: the first erasure’s time)', content: { 'application/json': { schema: erasureResultSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});
