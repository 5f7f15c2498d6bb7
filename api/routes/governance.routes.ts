import { createRoute } from '@hono/zod-openapi';
import { driftReportSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

export const drift = createRoute({
  method: 'get',
  path: '/governance/drift',
  summary: 'Live grants today’s policy would not grant, gateway routes vs the catalogue, the environments side by side (auditor, security, admin)',
  security: bearerSecurity,
  middleware: [requireRole('auditor', 'security', 'admin')] as const,
  responses: { 200: { description: 'The drift report', content: { 'application/json': { schema: driftReportSchema } } }, ...problemResponses(401, 403) },
});
