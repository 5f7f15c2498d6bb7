import { seeAllRoles } from '../../domain/access-rules.js';
import { auditEventsOf } from '../../schema/repositories/audit.js';
import { listPartners } from '../../schema/repositories/partners.js';
import type { AppDeps } from '../deps.js';
import { inboxOf } from '../inbox.js';
import { loadPartnerTimeline, loadVisiblePartner, partnerSummary } from '../partner-view.js';
import type { AppRouteHandler } from '../router.js';
import { toAuditEvent } from './audit.handlers.js';
import type * as routes from './directory.routes.js';

export function createDirectoryHandlers(deps: AppDeps) {
  const list: AppRouteHandler<typeof routes.list> = async (c) => {
    const principal = c.get('principal');
    const q = c.req.valid('query');
    // Operators without a role that sees every partner see what maySee lets them (the listing
    // applies it in SQL); operators with no role that sees partners reach no route here (requireRole).
    const seesAll = principal.kind === 'operator' && principal.roles.some((r) => seeAllRoles.includes(r));
    const onlyVisibleTo = principal.kind === 'operator' && !seesAll ? principal.name : undefined;
    const { rows, nextCursor } = await listPartners(deps.db, { ...q, onlyVisibleTo });
    return c.json({ items: rows.map(partnerSummary), nextCursor }, 200);
  };

  const timeline: AppRouteHandler<typeof routes.timeline> = async (c) => {
    const { id } = c.req.valid('param');
    const principal = c.get('principal');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    if (principal.kind === 'operator') {
      const events = await auditEventsOf(deps.db, id);
      return c.json({ partnerId: id, view: 'operator' as const, events: events.map(toAuditEvent) }, 200);
    }
    // The partner itself (request token or key): its own view, never the audit rows.
    return c.json({ partnerId: id, view: 'partner' as const, events: await loadPartnerTimeline(deps.db, partner) }, 200);
  };

  const inbox: AppRouteHandler<typeof routes.inbox> = async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw new Error('unreachable: requireRole admits operators only');
    const items = (await inboxOf(deps, principal)).map(({ partner, kind, stage }) => {
      const { partnerId, name, environment, state, scopes, nextDeadline } = partnerSummary(partner);
      return { partnerId, name, environment, kind, stage, state, scopes, deadline: nextDeadline };
    });
    return c.json({ items }, 200);
  };

  return { list, timeline, inbox };
}
