import { createRoute } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { auditEventsAfter, verifyAuditChain } from '../../schema/repositories/audit.js';
import type { AuditEventRow } from '../../schema/database.js';
import { auditQuerySchema, chainCheckSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { bearerSecurity, problemResponses } from '../openapi.js';
import { createRouter } from '../router.js';

export const toAuditEvent = (e: AuditEventRow) => ({
  seq: e.seq,
  at: e.at,
  actor: e.actor,
  action: e.action,
  partnerId: e.partner_id,
  before: e.before,
  after: e.after,
  reason: e.reason,
  details: e.details ? (JSON.parse(e.details) as Record<string, unknown>) : null,
  prevHash: e.prev_hash,
  hash: e.hash,
});

const exportRoute = createRoute({
  method: 'get',
  path: '/audit',
  summary: 'Audit events as NDJSON, oldest first (filters: partnerId, afterSeq; limit)',
  security: bearerSecurity,
  middleware: [requireRole('auditor', 'admin', 'security')] as const,
  request: { query: auditQuerySchema },
  responses: { 200: { description: 'One JSON audit event per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...problemResponses(400, 401, 403) },
});
const verifyRoute = createRoute({
  method: 'get',
  path: '/audit/verify',
  summary: 'Recompute the audit hash chain',
  security: bearerSecurity,
  middleware: [requireRole('auditor', 'admin', 'security')] as const,
  responses: { 200: { description: 'The chain check', content: { 'application/json': { schema: chainCheckSchema } } }, ...problemResponses(401, 403) },
});

export function auditRoutes(deps: AppDeps) {
  const app = createRouter();
  app.openapi(exportRoute, (c) => {
    const q = c.req.valid('query');
    c.header('Content-Type', 'application/x-ndjson');
    return stream(c, async (out) => {
      let after = q.afterSeq ?? 0;
      let left = q.limit;
      while (left > 0) {
        const rows = await auditEventsAfter(deps.db, { afterSeq: after, partnerId: q.partnerId, limit: Math.min(500, left) });
        if (rows.length === 0) break;
        await out.write(rows.map((r) => `${JSON.stringify(toAuditEvent(r))}\n`).join(''));
        after = rows.at(-1)!.seq;
        left -= rows.length;
      }
    }) as never;
  });
  app.openapi(verifyRoute, async (c) => c.json(await verifyAuditChain(deps.db), 200));
  return app;
}
