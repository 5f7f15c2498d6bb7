import { currentWindowAllowance, slidingWindowDecision, windowStart, type RateDecision } from '../../domain/sliding-window.js';
import { sql } from 'kysely';
import type { Db } from '../db.js';
import { ReadBatcher, sharesReads } from '../read-batcher.js';

/**
 * Rate-limit counts in the database, for budgets that must hold across API processes (issue #13).
 * Each `take` is one conditional upsert that counts only while `count + 1` stays within what the
 * previous window leaves (`currentWindowAllowance`), so concurrent processes can never count past
 * the limit together; a refusal then reads the counts for its Retry-After. Cost: one read of the
 * previous window and one write per counted event.
 */

const counts = async (db: Db, key: string, start: number, windowMs: number) => {
  const batched = windowReadsOf(db);
  const rows = batched
    ? ((await batched.get(key)) ?? [])
    : await db
        .selectFrom('rate_limit_windows')
        .select(['window_start', 'count'])
        .where('key', '=', key)
        .where('window_start', 'in', [start - windowMs, start])
        .execute();
  const of = (s: number) => rows.find((r) => Number(r.window_start) === s)?.count ?? 0;
  return { previous: of(start - windowMs), current: of(start) };
};

type WindowRow = { window_start: number; count: number };

/**
 * On Postgres, the reads of a budget's windows share one statement among concurrent questions
 * (schema/read-batcher.ts: each question's read starts after it was asked, so no answer is older
 * than it would be alone). The budget check before every authenticated request (a gateway's
 * introspection, say) would otherwise be a round trip per request. Every row of each key is read
 * (a key has a few at most: the pruner deletes those that weigh nothing); each caller picks its
 * own windows. Where reads are shared at all: `sharesReads`.
 */
const windowReads = new WeakMap<Db, ReadBatcher<string, WindowRow[]> | null>();
function windowReadsOf(db: Db): ReadBatcher<string, WindowRow[]> | undefined {
  let batched = windowReads.get(db);
  if (batched === undefined) {
    batched =
      sharesReads(db)
        ? new ReadBatcher(async (keys: string[]) => {
            const rows = await db
              .selectFrom('rate_limit_windows')
              .select(['key', 'window_start', 'count'])
              .where(sql<boolean>`${sql.ref('key')} = any(${keys})`)
              .execute();
            const byKey = new Map<string, WindowRow[]>();
            for (const { key, ...row } of rows) byKey.set(key, [...(byKey.get(key) ?? []), row]);
            return byKey;
          })
        : null;
    windowReads.set(db, batched);
  }
  return batched ?? undefined;
}

export async function peekWindow(db: Db, key: string, limit: number, windowMs: number, now: number): Promise<RateDecision> {
  const start = windowStart(now, windowMs);
  const { previous, current } = await counts(db, key, start, windowMs);
  return slidingWindowDecision(previous, current, limit, windowMs, now);
}

export async function takeWindow(db: Db, key: string, limit: number, windowMs: number, now: number): Promise<RateDecision> {
  const start = windowStart(now, windowMs);
  const previousRow = await db
    .selectFrom('rate_limit_windows')
    .select('count')
    .where('key', '=', key)
    .where('window_start', '=', start - windowMs)
    .executeTakeFirst();
  const allowance = currentWindowAllowance(previousRow?.count ?? 0, limit, windowMs, now);
  if (allowance >= 1) {
    const counted = await db
      .insertInto('rate_limit_windows')
      .values({ key, window_start: start, count: 1, expires_at: start + 2 * windowMs })
      .onConflict((oc) =>
        oc
          .columns(['key', 'window_start'])
          .doUpdateSet((eb) => ({ count: eb('rate_limit_windows.count', '+', 1) }))
          // count + 1 <= allowance, in integers (Postgres binds the bound as the column's type)
          .where('rate_limit_windows.count', '<=', Math.floor(allowance) - 1),
      )
      .returning('count')
      .executeTakeFirst();
    if (counted) return slidingWindowDecision(previousRow?.count ?? 0, counted.count - 1, limit, windowMs, now);
  }
  // Refused: its Retry-After from the counts now (another process may have counted meanwhile).
  const seen = await peekWindow(db, key, limit, windowMs, now);
  return seen.ok ? { ok: false, retryAfterSeconds: 1, remaining: 0 } : seen;
}

/** Deletes windows that no longer weigh anything; returns how many went. */
export async function pruneRateLimitWindows(db: Db, now: number): Promise<number> {
  const result = await db.deleteFrom('rate_limit_windows').where('expires_at', '<', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
