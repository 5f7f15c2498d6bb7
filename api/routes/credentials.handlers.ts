import { open } from '../../domain/sealed-box.js';
import type { PickupPurpose } from '../../schema/database.js';
import type { Db } from '../../schema/db.js';
import { claimPickup, pickupsOf } from '../../schema/repositories/credentials.js';
import { rotateCredentialUpdate } from '../../workflows/messages.js';
import { actorFor, assertNotEnded, runUpdate } from '../commands.js';
import type { AppDeps } from '../deps.js';
import { loadVisiblePartner } from '../partner-view.js';
import { problems } from '../problem.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './credentials.routes.js';

/**
 * The one-time copy of a key, opened: the first caller gets the plaintext, every later caller
 * nothing. A copy is claimed only for the purpose it was issued for: the request token takes the
 * approval's key, a rotate request the rotation's (never the other way round).
 */
async function pickUp(db: Db, key: Buffer, keyId: string, purpose: PickupPurpose): Promise<{ apiKey: string; keyId: string; expiresAt: string } | undefined> {
  const claimed = await claimPickup(db, keyId, purpose, new Date().toISOString());
  return claimed && { apiKey: open(key, claimed.sealed, keyId), keyId, expiresAt: claimed.expiresAt };
}

export function createCredentialHandlers(deps: AppDeps) {
  const pickup: AppRouteHandler<typeof routes.pickup> = async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    if (principal.kind !== 'request_token') throw problems.forbidden('pick up with the request token from your submission');
    // the key issued at approval only: a rotation's new key is handed to the rotate request, so a
    // request token racing a rotation cannot take the partner's next key
    const pickups = await pickupsOf(deps.db, id, 'approval');
    if (pickups.length === 0) {
      assertNotEnded(partner.state);
      throw problems.conflict('no key has been issued yet');
    }
    const waiting = pickups.find((p) => p.sealed !== null);
    const claimed = waiting && (await pickUp(deps.db, deps.pickupKey, waiting.key_id, 'approval'));
    deps.metrics?.keyPickups.inc({ outcome: claimed ? 'picked_up' : 'gone' });
    if (!claimed) throw problems.gone('the key was already picked up (or is no longer valid)');
    c.get('log').info({ partnerId: id, keyId: claimed.keyId }, 'key picked up');
    return c.json(claimed, 200);
  };

  const rotate: AppRouteHandler<typeof routes.rotate> = async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    if (principal.kind !== 'partner_key') throw problems.forbidden('rotate with your current API key');
    assertNotEnded(partner.state);
    // A rotate retried after its first attempt was cut off (the workflow issued the key, the answer
    // was lost) gets that key: the caller holds a live key of the partner, and nobody else can
    // claim a rotation's copy. Otherwise the workflow rotates now.
    const unclaimed = (await pickupsOf(deps.db, id, 'rotation')).find((p) => p.sealed !== null);
    const retried = unclaimed && (await pickUp(deps.db, deps.pickupKey, unclaimed.key_id, 'rotation'));
    if (retried) {
      c.get('log').info({ partnerId: id, keyId: retried.keyId }, 'key rotation retried: the key of the first attempt handed out');
      return c.json(retried, 200);
    }
    const result = await runUpdate(deps, id, rotateCredentialUpdate, { currentKeyId: principal.keyId, actor: actorFor(principal, id) });
    const claimed = result.issued && (await pickUp(deps.db, deps.pickupKey, result.issued.keyId, 'rotation'));
    if (!claimed) {
      // An emergency revocation that landed after the workflow answered wiped the copy with the key.
      assertNotEnded((await loadVisiblePartner(deps.db, principal, id)).state);
      // Otherwise a concurrent retry of this rotate took it.
      throw problems.gone('the new key was already handed out');
    }
    c.get('log').info({ partnerId: id, keyId: claimed.keyId, retiring: result.retiring?.keyId }, 'key rotated');
    return c.json(claimed, 200);
  };

  return { pickup, rotate };
}
