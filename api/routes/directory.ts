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
import { holdsScope, loadPartnerTimeline, loadVisiblePartner, partnerFacts, partnerSummary } from '../partner-view.js';
import { isWaitingOn, operatorLabel, seeAllRoles } from '../../domain/access-rules.js';
import { keyBearingStates, recertifiableStates, type ApprovalStage } from '../../domain/partner-states.js';
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
    let query = deps.db.selectFrom('partners').selectAll().orderBy('id').limit(q.limit + 1);
    if (principal.kind === 'operator' && !principal.roles.some((r) => seeAllRoles.includes(r))) {
      // maySee (domain/access-rules.ts) in SQL, so pages stay full: approvers see the partners they
      // sponsor and escalated requests any approver may take (isEscalatedToApprovers); operators
      // with no role that sees partners reach no route here (requireRole).
      const me = principal.name;
      query = query.where((eb) =>
        eb.or([eb('sponsor', '=', me), eb.and([eb('state', '=', 'pending_approval'), eb('stage', '=', 'sponsor'), eb('escalated', '=', 1)])]),
      );
    }
    if (q.state) query = query.where('state', '=', q.state);
    if (q.sponsor) query = query.where('sponsor', '=', q.sponsor);
    if (q.environment) query = query.where('environment', '=', q.environment);
    if (q.scope) query = query.where(holdsScope(q.scope));
    if (q.cursor) query = query.where('id', '>', q.cursor);
    const rows = await query.execute();
    const page = rows.slice(0, q.limit);
    return c.json({ items: page.map(partnerSummary), nextCursor: rows.length > q.limit ? page.at(-1)!.id : null }, 200);
  });

  app.openapi(timelineRoute, async (c) => {
    const { id } = c.req.valid('param');
    const principal = c.get('principal');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    if (principal.kind === 'operator') {
      const events = await deps.db.selectFrom('audit_events').selectAll().where('partner_id', '=', id).orderBy('seq').execute();
      return c.json({ partnerId: id, view: 'operator' as const, events: events.map(toAuditEvent) }, 200);
    }
    // The partner itself (request token or key): its own view, never the audit rows.
    return c.json({ partnerId: id, view: 'partner' as const, events: await loadPartnerTimeline(deps.db, partner) }, 200);
  });

  app.openapi(inboxRoute, async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw new Error('unreachable: requireRole admits operators only');
    const me = principal.name;
    const isApprover = principal.roles.includes('approver');
    const isSecurity = principal.roles.includes('security');
    const rows = await deps.db
      .selectFrom('partners')
      .selectAll()
      // isWaitingOn (domain/access-rules.ts) in SQL, so the limit counts waiting items only: the
      // stage an operator may decide (mayDecideStage), the recertifications it owes (mayRecertify),
      // the extensions it decides (mayDecideExtension); never a request it filed. Each row is
      // checked again against the rule below.
      .where((eb) => {
        const waiting = [];
        if (isApprover) {
          waiting.push(
            eb.and([eb('state', '=', 'pending_approval'), eb('stage', '=', 'sponsor'), eb.or([eb('sponsor', '=', me), eb('escalated', '=', 1)])]),
            eb.and([eb('sponsor', '=', me), eb('state', 'in', recertifiableStates)]),
            eb.and([eb('sponsor', '=', me), eb('pending_extension', 'is not', null), eb('state', 'in', keyBearingStates)]),
          );
        }
        if (isSecurity) waiting.push(eb.and([eb('state', '=', 'pending_approval'), eb('stage', '=', 'security')]));
        return eb.or(waiting);
      })
      .where('requested_by', '!=', operatorLabel(principal))
      .orderBy('next_deadline_at')
      .limit(500)
      .execute();
    // Stage 2 never goes to whoever approved stage 1: the row does not say who approved, the decisions do.
    const decidedByMe = new Set(
      (await deps.db.selectFrom('decisions').select('partner_id').where('actor', '=', operatorLabel(principal)).where('kind', '=', 'approval').execute()).map(
        (d) => d.partner_id,
      ),
    );
    const items = rows
      .filter((p) =>
        isWaitingOn(principal, {
          ...partnerFacts(p),
          approvedBy: p.stage === 'security' && decidedByMe.has(p.id) ? [operatorLabel(principal)] : [],
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
