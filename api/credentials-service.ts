import type { Logger } from 'pino';
import { open } from '../domain/sealed-box.js';
import type { PickupPurpose } from '../schema/database.js';
import type { Db } from '../schema/db.js';
import { claimPickup, credentialForVerdict, pickupsOf } from '../schema/repositories/credentials.js';
import { rotateCredentialUpdate } from '../workflows/messages.js';
import type { Principal } from './auth.js';
import { actorFor, assertNotEnded, runUpdate } from './commands.js';
import type { AppDeps } from './deps.js';
import { loadVisiblePartner } from './partner-view.js';
import { problems } from './problem.js';

/**
 * The partner's two ways to a plaintext key, as services: the JSON API's handlers
 * (api/routes/credentials.handlers.ts) and the portal's pages (api/pages/portal/) call the same
 * code, so a key is handed out once whichever door asked. The plaintext is returned to the
 * caller only; it is never logged (the log lines carry the key id).
 */

export interface IssuedKey {
  apiKey: string;
  keyId: string;
  expiresAt: string;
}

/**
 * The one-time copy of a key, opened: the first caller gets the plaintext, every later caller
 * nothing. A copy is claimed only for the purpose it was issued for: the request token takes the
 * approval's key, a rotate request the rotation's (never the other way round).
 */
async function claim(db: Db, key: Buffer, keyId: string, purpose: PickupPurpose): Promise<IssuedKey | undefined> {
  const claimed = await claimPickup(db, keyId, purpose, new Date().toISOString());
  return claimed && { apiKey: open(key, claimed.sealed, keyId), keyId, expiresAt: claimed.expiresAt };
}

/** Whether the key issued at approval still waits to be picked up (the portal shows the pickup button only then). */
export async function issuedKeyWaiting(db: Db, partnerId: string): Promise<boolean> {
  return (await pickupsOf(db, partnerId, 'approval')).some((p) => p.sealed !== null);
}

/** Pickup with the request token: the key issued at approval, once; 409 before issuance, 410 after the pickup. */
export async function pickUpIssuedKey(deps: AppDeps, principal: Principal, partnerId: string, log: Logger): Promise<IssuedKey> {
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  if (principal.kind !== 'request_token') throw problems.forbidden('pick up with the request token from your submission');
  // the key issued at approval only: a rotation's new key is handed to the rotate request, so a
  // request token racing a rotation cannot take the partner's next key
  const pickups = await pickupsOf(deps.db, partnerId, 'approval');
  if (pickups.length === 0) {
    assertNotEnded(partner.state);
    throw problems.conflict('no key has been issued yet');
  }
  const waiting = pickups.find((p) => p.sealed !== null);
  const claimed = waiting && (await claim(deps.db, deps.pickupKey, waiting.key_id, 'approval'));
  deps.metrics?.keyPickups.inc({ outcome: claimed ? 'picked_up' : 'gone' });
  if (!claimed) throw problems.gone('the key was already picked up (or is no longer valid)');
  log.info({ partnerId, keyId: claimed.keyId }, 'key picked up');
  return claimed;
}

/** A rotation's outcome: the new key (the JSON answer) and the key it retires, and when (the portal shows it). */
export interface RotatedKey {
  issued: IssuedKey;
  retiring?: { keyId: string; retireAt: string } | undefined;
}

/** Rotation with the partner's current key: a new key once; the current one retires after the policy's overlap. */
export async function rotateKey(deps: AppDeps, principal: Principal, partnerId: string, log: Logger): Promise<RotatedKey> {
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  if (principal.kind !== 'partner_key') throw problems.forbidden('rotate with your current API key');
  assertNotEnded(partner.state);
  // A rotate retried after its first attempt was cut off (the workflow issued the key, the answer
  // was lost) gets that key: the caller holds a live key of the partner, and nobody else can
  // claim a rotation's copy. Otherwise the workflow rotates now.
  const unclaimed = (await pickupsOf(deps.db, partnerId, 'rotation')).find((p) => p.sealed !== null);
  const retried = unclaimed && (await claim(deps.db, deps.pickupKey, unclaimed.key_id, 'rotation'));
  if (retried) {
    log.info({ partnerId, keyId: retried.keyId }, 'key rotation retried: the key of the first attempt handed out');
    // the first attempt's answer is lost: the key it retired is the caller's, marked in its row
    const current = await credentialForVerdict(deps.db, principal.keyId);
    return { issued: retried, retiring: current?.retire_at ? { keyId: principal.keyId, retireAt: current.retire_at } : undefined };
  }
  const result = await runUpdate(deps, partnerId, rotateCredentialUpdate, { currentKeyId: principal.keyId, actor: actorFor(principal, partnerId) });
  const claimed = result.issued && (await claim(deps.db, deps.pickupKey, result.issued.keyId, 'rotation'));
  if (!claimed) {
    // An emergency revocation that landed after the workflow answered wiped the copy with the key.
    assertNotEnded((await loadVisiblePartner(deps.db, principal, partnerId)).state);
    // Otherwise a concurrent retry of this rotate took it.
    throw problems.gone('the new key was already handed out');
  }
  log.info({ partnerId, keyId: claimed.keyId, retiring: result.retiring?.keyId }, 'key rotated');
  return { issued: claimed, retiring: result.retiring };
}
