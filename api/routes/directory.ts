import { createRoute, z } from '@hono/zod-openapi';
import {
  inboxSchema,
  listQuerySchema,
  partnerIdSchema,
  partnerListSchema,
  timelineResponseSchema,
} from '../../schema/api.js';
import { requireRole } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { bearerSecurity, problemResponses } from '../openapi.js';
import { loadPartnerTimeline, loadVisiblePartner, partnerFacts, partnerSummary } from '../partner-view.js';
import { isWaitingOn, operatorLabel, seeAllRoles } from '../../domain/access-rules.js';
import type { ApprovalStage } from '../../domain/partner-states.js';
import { auditEventsOf } from '../../schema/repositories/audit.js';
import { inboxCandidates, listPartners } from '../../schema/repositories/partners.js';
import { toAuditEvent } from './audit.js';
import { createRouter } from '../router.js';

const listRoute = createRoute({
  method: 'get',
  path: '/partners',
  summary: 'List partners (filters: state, sponsor, environment, scope; cursor pagination, at most 200 a page)',
  security: bearerSecurity,
  middleware: [requireRole('approver', 'security', 'auditor', 'admin')] as const,
  request: { query: listQuerySchema },
  responses: { 200: { description: 'A page of partners', content: { 'application/json': { schema: partnerListSchema } } }, ...problemResponses(400, 401, 403) },
});
const timelineRoute = createRoute({
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
const inboxRoute = createRoute({
  method: 'get',
  path: '/inbox',
  summary: 'Decisions waiting for the caller (approvals, extensions, recertifications)',
  security: bearerSecurity,
  middleware: [requireRole('approver', 'security')] as const,
  responses: { 200: { description: 'Waiting decisions', content: { 'application/json': { schema: inboxSchema } } }, ...problemResponses(401, 403) },
});


export function directoryRoutes(deps: AppDeps) {
  const app = createRouter();

  app.openapi(listRoute, async (c) => {
    const principal = c.get('principal');
    const q = c.req.valid('query');
    // Operators without a role that sees every partner see what maySee lets them (the listing
    // applies it in SQL); operators with no role that sees partners reach no route here (requireRole).
    const seesAll = principal.kind === 'operator' && principal.roles.some((r) => seeAllRoles.includes(r));
    const onlyVisibleTo = principal.kind === 'operator' && !seesAll ? principal.name : undefined;
    const { rows, nextCursor } = await listPartners(deps.db, { ...q, onlyVisibleTo });
    return c.json({ items: rows.map(partnerSummary), nextCursor }, 200);
  });

  app.openapi(timelineRoute, async (c) => {
    const { id } = c.req.valid('param');
    const principal = c.get('principal');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    if (principal.kind === 'operator') {
      const events = await auditEventsOf(deps.db, id);
      return c.json({ partnerId: id, view: 'operator' as const, events: events.map(toAuditEvent) }, 200);
    }
    // The partner itself (request token or key): its own view, never the audit rows.
    return c.json({ partnerId: id, view: 'partner' as const, events: await loadPartnerTimeline(deps.db, partner) }, 200);
  });

  app.openapi(inboxRoute, async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw new Error('unreachable: requireRole admits operators only');
    const me = operatorLabel(principal);
    const { rows, approvedByMe } = await inboxCandidates(deps.db, {
      label: me,
      name: principal.name,
      isApprover: principal.roles.includes('approver'),
      isSecurity: principal.roles.includes('security'),
    });
    const items = rows
      .filter((p) =>
        isWaitingOn(principal, {
          ...partnerFacts(p),
          approvedBy: p.stage === 'security' && approvedByMe.has(p.id) ? [me] : [],
          pendingExtension: p.pending_extension !== null,
        }),
      )
      .map((p) => ({
        ...partnerSummary(p),
        kind: p.state === 'pending_approval' ? ('approval' as const) : p.pending_extension && p.state !== 'suspended' ? ('extension' as const) : ('recertification' as const),
        stage: p.state === 'pending_approval' ? ((p.stage as ApprovalStage | null) ?? 'sponsor') : null,
        deadline: partnerSummary(p).nextDeadline,
      }))
      .map(({ partnerId, name, environment, kind, stage, state, scopes, deadline }) => ({ partnerId, name, environment, kind, stage, state, scopes, deadline }));
    return c.json({ items }, 200);
  });

  return app;
}
