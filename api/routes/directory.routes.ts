import { createRoute, z } from '@hono/zod-openapi';
import { inboxSchema, listQuerySchema, partnerIdSchema, partnerListSchema, timelineResponseSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

export const list = createRoute({
  method: 'get',
  path: '/partners',
  summary: 'List partners (filters: state, sponsor, environment, scope; cursor pagination, at most 200 a page)',
  security: bearerSecurity,
  middleware: [requireRole('approver', 'security', 'auditor', 'admin')] as const,
  request: { query: listQuerySchema },
  responses: { 200: { description: 'A page of partners', content: { 'application/json': { schema: partnerListSchema } } }, ...problemResponses(400, 401, 403) },
});

export const timeline = createRoute({
  method: 'get',
  path: '/partners/{id}/timeline',
  summary: 'The partner’s events, oldest first: operators who may see it get the audit events (view "operator"); the partner gets its own view (view "partner": when, what, in which role, reasons written for it)',
  security: bearerSecurity,
  request: { params: z.object({ id: partnerIdSchema }) },
  responses: {
    200: { description: 'Timeline, by caller', content: { 'application/json': { schema: timelineResponseSchema } } },
    ...problemResponses(400, 401, 404),
  },
});

export const inbox = createRoute({
  method: 'get',
  path: '/inbox',
  summary: 'Decisions waiting for the caller (approvals, extensions, recertifications)',
  security: bearerSecurity,
  middleware: [requireRole('approver', 'security')] as const,
  responses: { 200: { description: 'Waiting decisions', content: { 'application/json': { schema: inboxSchema } } }, ...problemResponses(401, 403) },
});
