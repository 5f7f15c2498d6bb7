import { createRoute, z } from '@hono/zod-openapi';
import { deadLetterListSchema, notificationIdParamSchema, redeliveryResultSchema, redeliverySchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

export const deadLetters = createRoute({
  method: 'get',
  path: '/notifications/dead-letters',
  summary: 'Notices a webhook endpoint never accepted within the retry window, newest first (security, admin, auditor)',
  security: bearerSecurity,
  middleware: [requireRole('security', 'admin', 'auditor')] as const,
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }) },
  responses: { 200: { description: 'Dead letters', content: { 'application/json': { schema: deadLetterListSchema } } }, ...problemResponses(400, 401, 403) },
});

export const redeliver = createRoute({
  method: 'post',
  path: '/notifications/{id}/redelivery',
  summary: 'Put a dead notice back in the delivery queue with a new retry window (security, admin; audited)',
  security: bearerSecurity,
  middleware: [requireRole('security', 'admin')] as const,
  request: { params: z.object({ id: notificationIdParamSchema }), body: { required: true, content: { 'application/json': { schema: redeliverySchema } } } },
  responses: {
    202: { description: 'Requeued: the worker delivers it at its next pass', content: { 'application/json': { schema: redeliveryResultSchema } } },
    ...problemResponses(400, 401, 403, 409, 413, 415),
  },
});
