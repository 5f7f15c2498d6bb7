import type { Transaction } from 'kysely';
import type { Database, IdempotencyKeysTable } from '../database.js';
import type { Db } from '../db.js';

/**
 * How long an `Idempotency-Key` is remembered (Stripe keeps keys 24 h). A key older than this is
 * a new request, and its row is pruned by the API's periodic loop.
 */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** One caller's use of one key, as stored: scope and key are HMACs, the response is sealed (api/idempotency.ts). */
export interface IdempotencyClaim {
  scope: string;
  key: string;
  bodyHash: string;
  partnerId: string;
  sealedResponse: string;
  at: string;
}

const cutoff = (now: number) => new Date(now - IDEMPOTENCY_KEY_TTL_MS).toISOString();

/** The caller's earlier use of this key, if it has not expired. */
export function findIdempotencyRecord(db: Db, scope: string, key: string, now = Date.now()): Promise<IdempotencyKeysTable | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('scope', '=', scope)
    .where('key', '=', key)
    .where('created_at', '>=', cutoff(now))
    .executeTakeFirst();
}

/**
 * Records the key for a new submission inside its transaction (partners.ts `recordSubmission`).
 * An expired row of the same key (or one whose partner is gone) makes way; false when a live row
 * exists, i.e. a concurrent request with the same key committed first.
 */
export async function claimIdempotencyKey(trx: Transaction<Database>, claim: IdempotencyClaim): Promise<boolean> {
  await trx
    .deleteFrom('idempotency_keys')
    .where('scope', '=', claim.scope)
    .where('key', '=', claim.key)
    .where((eb) => eb.or([eb('created_at', '<', cutoff(Date.parse(claim.at))), eb('partner_id', 'not in', eb.selectFrom('partners').select('id'))]))
    .execute();
  const inserted = await trx
    .insertInto('idempotency_keys')
    .values({
      scope: claim.scope,
      key: claim.key,
      body_hash: claim.bodyHash,
      partner_id: claim.partnerId,
      response: claim.sealedResponse,
      created_at: claim.at,
    })
    .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Deletes expired keys (run by the API's periodic loop); returns how many went. */
export async function pruneExpiredIdempotencyKeys(db: Db, now = Date.now()): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff(now)).executeTakeFirst();
  return Number(result.numDeletedRows);
}
