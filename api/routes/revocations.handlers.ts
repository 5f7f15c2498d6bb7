import { liveHolders } from '../../schema/repositories/partners.js';
import { actorFor, revokeInDatabase, signalRevocation } from '../commands.js';
import type { AppDeps } from '../deps.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './revocations.routes.js';

export function createRevocationHandlers(deps: AppDeps) {
  const bulkRevoke: AppRouteHandler<typeof routes.bulkRevoke> = async (c) => {
    const body = c.req.valid('json');
    const targets = await liveHolders(deps.db, body);
    const view = (p: (typeof targets)[number]) => ({ partnerId: p.id, name: p.name, state: p.state, scopes: JSON.parse(p.scopes) as string[] });
    if (body.dryRun) return c.json({ dryRun: true, partners: targets.map(view) }, 200);

    const principal = c.get('principal');
    const results = [];
    for (const target of targets) {
      const actor = actorFor(principal, target.id);
      const at = new Date().toISOString();
      const revocation = { reason: body.reason, actor, at };
      const revoked = await revokeInDatabase(deps.db, target.id, revocation);
      if (revoked === undefined) continue; // ended meanwhile
      deps.metrics?.revocations.inc({ kind: 'bulk' });
      await signalRevocation(deps, target.id, revocation, revoked.outboxId);
      results.push({ ...view(target), keysRevoked: revoked.keysRevoked });
    }
    c.get('log').warn({ by: principal.kind === 'operator' ? principal.name : principal.kind, count: results.length, scope: body.scope, environment: body.environment }, 'bulk revocation');
    return c.json({ dryRun: false, partners: results }, 200);
  };

  return { bulkRevoke };
}
