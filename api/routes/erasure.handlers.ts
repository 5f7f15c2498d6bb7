import { operatorLabel } from '../../domain/access-rules.js';
import { erasePartnerContact } from '../../schema/repositories/retention.js';
import type { AppDeps } from '../deps.js';
import { problems } from '../problem.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './erasure.routes.js';

export function createErasureHandlers(deps: AppDeps) {
  const erase: AppRouteHandler<typeof routes.erase> = async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw problems.forbidden();
    const { id } = c.req.valid('param');
    const { reason } = c.req.valid('json');
    const outcome = await erasePartnerContact(deps.db, id, new Date().toISOString(), { actor: operatorLabel(principal), reason });
    if (!outcome.erased) {
      if (outcome.reason === 'not_found') throw problems.notFound();
      throw problems.conflict('the partner’s access has not ended: offboard or revoke it first (erasure keeps nothing a live grant needs)');
    }
    c.get('log').info({ partnerId: id }, 'partner contact data erased');
    return c.json({ partnerId: id, erasedAt: outcome.at }, 200);
  };
  return { erase };
}
