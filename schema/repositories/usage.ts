import type { Db } from '../db.js';

/** Usage evidence for recertification: last use per key, daily counts per key and scope. */

export interface UsageBatch {
  /** key id → latest use (ISO time) */
  lastUsed: Map<string, string>;
  counts: { keyId: string; scope: string; day: string; count: number }[];
}

/** Writes one batch in one transaction; a later `last_used_at` is never moved back. */
export function writeUsage(db: Db, batch: UsageBatch): Promise<void> {
  return db.transaction().execute(async (trx) => {
    for (const [keyId, at] of batch.lastUsed) {
      await trx
        .updateTable('credentials')
        .set({ last_used_at: at })
        .where('key_id', '=', keyId)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
        .execute();
    }
    for (const { keyId, scope, day, count } of batch.counts) {
      await trx
        .insertInto('usage_counters')
        .values({ key_id: keyId, scope, day, count })
        .onConflict((oc) => oc.columns(['key_id', 'scope', 'day']).doUpdateSet((eb) => ({ count: eb('usage_counters.count', '+', count) })))
        .execute();
    }
  });
}

/** Every scope any key of the partner was used for. */
export async function scopesUsedBy(db: Db, partnerId: string): Promise<string[]> {
  const used = await db
    .selectFrom('usage_counters')
    .innerJoin('credentials', 'credentials.key_id', 'usage_counters.key_id')
    .select('usage_counters.scope')
    .distinct()
    .where('credentials.partner_id', '=', partnerId)
    .execute();
  return used.map((u) => u.scope);
}
