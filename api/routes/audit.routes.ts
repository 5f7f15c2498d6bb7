import { createRoute } from '@hono/zod-openapi';
import { auditQuerySchema, chainCheckSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

export const exportEvents = createRoute({
  method: 'get',
  path: '/audit',
  summary: 'Audit events as NDJSON, oldest first (filters: partnerId, afterSeq; limit)',
  security: bearerSecurity,
  middleware: [requireRole('auditor', 'admin', 'security')] as const,
  request: { query: auditQuerySchema },
  responses: { 200: { description: 'One JSON audit event per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...problemResponses(400, 401, 403) },
});

export const verify = createRoute({
  method: 'get',
  path: '/audit/verify',
  summary: 'Recompute the audit hash chain',
  security: bearerSecurity,
  middleware: [requireRole('auditor', 'admin', 'security')] as const,
  responses: { 200: { description: 'The chain check', content: { 'application/json': { schema: chainCheckSchema } } }, ...problemResponses(401, 403) },
});
