import { createRoute } from '@hono/zod-openapi';
import { liveHolders } from '../../schema/repositories/partners.js';
import { bulkRevocationResultSchema, bulkRevocationSchema } from '../../schema/api.js';
import { requireRole } from '../auth.js';
import { actorFor, revokeInDatabase, signalRevocation } from '../commands.js';
import type { AppDeps } from '../deps.js';
import { bearerSecurity, problemResponses } from '../openapi.js';
import { createRouter } from '../router.js';

const route = createRoute({
  method: 'post',
  path: '/revocations',
  summary: 'Bulk containment: revoke every live partner holding a scope, in an environment, or listed (dryRun lists them)',
  security: bearerSecurity,
  middleware: [requireRole('security')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: bulkRevocationSchema } } } },
  responses: {
    200: { description: 'Who would be (dryRun) or was cut off', content: { 'application/json': { schema: bulkRevocationResultSchema } } },
    ...problemResponses(400, 401, 403, 413, 415),
  },
});

export function revocationRoutes(deps: AppDeps) {
  const app = createRouter();
  app.openapi(route, async (c) => {
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
      await signalRevocation(deps, target.id, revocation, revoked.outboxId);
      results.push({ ...view(target), keysRevoked: revoked.keysRevoked });
    }
    c.get('log').warn({ by: principal.kind === 'operator' ? principal.name : principal.kind, count: results.length, scope: body.scope, environment: body.environment }, 'bulk revocation');
    return c.json({ dryRun: false, partners: results }, 200);
  });
  return app;
}
