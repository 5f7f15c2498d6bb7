import type { UsageEvidence } from '../../domain/lifecycle-records.js';
import type { PartnerRow } from '../database.js';
import type { Db } from '../db.js';
import { credentialsOf } from './credentials.js';

/** Usage evidence for recertification: last use per key, daily counts per key and scope. */

export interface UsageBatch {
  /** key id → latest use (ISO time) */
  lastUsed: Map<string, string>;
  counts: { keyId: string; scope: string; day: string; count: number }[];
}

/** Code-unit order: the same in every process, whatever its locale. */
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Writes one batch in one transaction; a later `last_used_at` is never moved back. Rows are
 * written in one fixed order (key, scope, day): two API processes flushing batches over the same
 * keys lock those rows in the same order, where in each batch's own order (first use) Postgres
 * found them deadlocked and aborted one.
 */
export function writeUsage(db: Db, batch: UsageBatch): Promise<void> {
  const lastUsed = [...batch.lastUsed].sort(([a], [b]) => byText(a, b));
  const counts = [...batch.counts].sort((a, b) => byText(a.keyId, b.keyId) || byText(a.scope, b.scope) || byText(a.day, b.day));
  return db.transaction().execute(async (trx) => {
    for (const [keyId, at] of lastUsed) {
      await trx
        .updateTable('credentials')
        .set({ last_used_at: at })
        .where('key_id', '=', keyId)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
        .execute();
    }
    for (const { keyId, scope, day, count } of counts) {
      await trx
        .insertInto('usage_counters')
        .values({ key_id: keyId, scope, day, count })
        .onConflict((oc) => oc.columns(['key_id', 'scope', 'day']).doUpdateSet((eb) => ({ count: eb('usage_counters.count', '+', count) })))
        .execute();
    }
  });
}

/** Every scope any key of the partner was used for, on `sinceDay` (YYYY-MM-DD) or later when given. */
export async function scopesUsedBy(db: Db, partnerId: string, sinceDay?: string): Promise<string[]> {
  let query = db
    .selectFrom('usage_counters')
    .innerJoin('credentials', 'credentials.key_id', 'usage_counters.key_id')
    .select('usage_counters.scope')
    .distinct()
    .where('credentials.partner_id', '=', partnerId);
  if (sinceDay) query = query.where('usage_counters.day', '>=', sinceDay);
  const used = await query.execute();
  return used.map((u) => u.scope);
}

/**
 * What a reviewer sees at recertification (the workflow's notice and the console's queue): last
 * use per key, and the partner's scopes used and never used this cycle, that is since the last
 * recertification (counts are per day, so that day counts), or ever before the first one.
 */
export async function usageEvidenceOf(db: Db, partner: Pick<PartnerRow, 'id' | 'scopes' | 'last_certified_at'>): Promise<UsageEvidence> {
  const keys = await credentialsOf(db, partner.id);
  const scopes: string[] = JSON.parse(partner.scopes);
  const used = await scopesUsedBy(db, partner.id, partner.last_certified_at?.slice(0, 10));
  const scopesUsed = scopes.filter((scope) => used.includes(scope));
  return {
    keys: keys.map((k) => ({ keyId: k.key_id, prefix: k.prefix, lastUsedAt: k.last_used_at })),
    scopesUsed,
    scopesNeverUsed: scopes.filter((scope) => !scopesUsed.includes(scope)),
  };
}
