import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import { dialectOf, lastAutoIncrement } from '../dialect.js';
import type { Db } from '../db.js';

/** One change a gateway applies: drop the cached verdict of the key, or of every key of the partner. */
export interface GatewayChange {
  seq: number;
  partnerId: string;
  /** null: every key of the partner */
  keyId: string | null;
  kind: string;
  at: string;
}

export interface GatewayChangesPage {
  changes: GatewayChange[];
  /** where the next read starts: the last seq returned, or the head when none */
  cursor: number;
  /**
   * true when the caller's cursor lies before what is still kept (pruned) or after the head (a
   * different database): the changes in between are unknown, so a gateway drops every cached verdict.
   */
  reset: boolean;
}

/**
 * The changes after `after` (at most `limit`), in seq order; without a cursor, none and the head
 * (a gateway that starts with an empty cache needs no history).
 */
export async function gatewayChangesAfter(db: Db, after: number | undefined, limit = 500): Promise<GatewayChangesPage> {
  if (after !== undefined) {
    const rows = await db
      .selectFrom('gateway_changes')
      .select(['seq', 'partner_id', 'key_id', 'kind', 'at'])
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(limit)
      .execute();
    const bounds = rows.length > 0 && rows[0]!.seq === after + 1 ? undefined : await feedBounds(db);
    const reset = bounds !== undefined && (after > bounds.head || (bounds.oldest !== undefined ? after < bounds.oldest - 1 : after < bounds.head));
    if (reset) return { changes: [], cursor: bounds.head, reset: true };
    return {
      changes: rows.map((r) => ({ seq: r.seq, partnerId: r.partner_id, keyId: r.key_id, kind: r.kind, at: r.at })),
      cursor: rows.length > 0 ? rows[rows.length - 1]!.seq : after,
      reset: false,
    };
  }
  return { changes: [], cursor: (await feedBounds(db)).head, reset: false };
}

/**
 * The last seq ever handed out (kept by the dialect's sequence bookkeeping, so pruning every row
 * does not lower it) and the oldest seq still kept.
 */
async function feedBounds(db: Db): Promise<{ head: number; oldest: number | undefined }> {
  const read = async (q: Kysely<Database>) => {
    const kept = await q.selectFrom('gateway_changes').select((eb) => [eb.fn.min('seq').as('oldest'), eb.fn.max('seq').as('newest')]).executeTakeFirst();
    const head = Math.max(Number(kept?.newest ?? 0), await lastAutoIncrement(q, 'gateway_changes', 'seq'));
    return { head, oldest: kept?.oldest === null || kept?.oldest === undefined ? undefined : Number(kept.oldest) };
  };
  if (dialectOf(db) === 'sqlite') return read(db); // sqlite_sequence is transactional: it names committed rows only
  // Postgres: a sequence hands out numbers outside transactions, so its last value can be a change
  // not yet committed; a gateway given that as its cursor would then never read the change (it
  // asked for the verdict before the commit and polls after the seq). Writers of the feed hold the
  // audit head's row lock until they commit (migration 004): a share lock on it waits them out.
  return db.transaction().execute(async (trx) => {
    await trx.selectFrom('audit_head').select('id').where('id', '=', 1).forShare().execute();
    return read(trx);
  });
}

/** The newest seq, cheaply (the long poll's check between reads). */
export async function latestGatewayChange(db: Db): Promise<number> {
  const row = await db.selectFrom('gateway_changes').select((eb) => eb.fn.max('seq').as('newest')).executeTakeFirst();
  return Number(row?.newest ?? 0);
}

/** Drops changes older than `before` (ISO-8601): a gateway further behind than that resets. */
export async function pruneGatewayChanges(db: Db, before: string): Promise<number> {
  const result = await db.deleteFrom('gateway_changes').where('at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
