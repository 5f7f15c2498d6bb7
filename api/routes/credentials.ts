import { createRoute, z } from '@hono/zod-openapi';
import { open } from '../../domain/sealed-box.js';
import type { Db } from '../../schema/db.js';
import { claimPickup, pickupsOf } from '../../schema/repositories/credentials.js';
import { issuedKeySchema, partnerIdSchema } from '../../schema/api.js';
import { rotateCredentialUpdate } from '../../workflows/messages.js';
import { actorFor, assertNotEnded, runUpdate } from '../commands.js';
import type { AppDeps } from '../deps.js';
import { bearerSecurity, problemResponses } from '../openapi.js';
import { loadVisiblePartner } from '../partner-view.js';
import { problems } from '../problem.js';
import { createRouter } from '../router.js';

const params = z.object({ id: partnerIdSchema });
const issued = { description: 'The plaintext key, shown this once', content: { 'application/json': { schema: issuedKeySchema } } };

const pickupRoute = createRoute({
  method: 'post',
  path: '/{id}/credentials/pickup',
  summary: 'Pick up the issued key, once (partner, with its request token)',
  security: bearerSecurity,
  request: { params },
  responses: { 200: issued, ...problemResponses(400, 401, 403, 404, 409, 410, 413, 415) },
});
const rotateRoute = createRoute({
  method: 'post',
  path: '/{id}/credentials/rotate',
  summary: 'Issue a new key; the current one stops working after the rotation overlap (partner, with its key)',
  security: bearerSecurity,
  request: { params },
  responses: { 200: issued, ...problemResponses(400, 401, 403, 404, 409, 410, 413, 415, 503) },
});

/** The one-time copy of a key, opened: the first caller gets the plaintext, every later caller nothing. */
async function pickUp(db: Db, key: Buffer, keyId: string): Promise<{ apiKey: string; keyId: string; expiresAt: string } | undefined> {
  const claimed = await claimPickup(db, keyId, new Date().toISOString());
  return claimed && { apiKey: open(key, claimed.sealed, keyId), keyId, expiresAt: claimed.expiresAt };
}

export function credentialRoutes(deps: AppDeps) {
  const app = createRouter();

  app.openapi(pickupRoute, async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    if (principal.kind !== 'request_token') throw problems.forbidden('pick up with the request token from your submission');
    const pickups = await pickupsOf(deps.db, id);
    if (pickups.length === 0) {
      assertNotEnded(partner.state);
      throw problems.conflict('no key has been issued yet');
    }
    const waiting = pickups.find((p) => p.sealed !== null);
    const claimed = waiting && (await pickUp(deps.db, deps.pickupKey, waiting.key_id));
    if (!claimed) throw problems.gone('the key was already picked up (or is no longer valid)');
    c.get('log').info({ partnerId: id, keyId: claimed.keyId }, 'key picked up');
    return c.json(claimed, 200);
  });

  app.openapi(rotateRoute, async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    if (principal.kind !== 'partner_key') throw problems.forbidden('rotate with your current API key');
    assertNotEnded(partner.state);
    const result = await runUpdate(deps, id, rotateCredentialUpdate, { currentKeyId: principal.keyId, actor: actorFor(principal, id) });
    const claimed = result.issued && (await pickUp(deps.db, deps.pickupKey, result.issued.keyId));
    if (!claimed) {
      // An emergency revocation that landed after the workflow answered wiped the copy with the key.
      assertNotEnded((await loadVisiblePartner(deps.db, principal, id)).state);
      // Otherwise only a crash between the update and the claim leaves it; the request token can still pick it up.
      throw problems.gone('the new key was already handed out');
    }
    c.get('log').info({ partnerId: id, keyId: claimed.keyId, retiring: result.retiring?.keyId }, 'key rotated');
    return c.json(claimed, 200);
  });

  return app;
}
