import type { Transaction } from 'kysely';
import type { Database } from '../database.js';
import type { Db } from '../db.js';
import { lockForUpdate } from '../dialect.js';
import { appendAudit, type AuditEventInput } from './audit.js';

/**
 * The notice outbox (issue #16, item 9): each notice once (keyed by its id), and one delivery per
 * webhook endpoint that wants it (notice_deliveries, migration 009), retried until its
 * `retry_until`, then a dead letter. `notifications.status` sums its deliveries up: `delivered` when
 * every one is, `failed` once one is dead, `not_configured` when no endpoint wanted it.
 */

export interface NewNotice {
  id: string;
  partnerId: string;
  kind: string;
  recipients: string[];
  payload: string;
  at: string;
  /** the endpoints to deliver to, and until when each is retried */
  deliveries: Array<{ endpoint: string; retryUntil: string }>;
}

/** Records the notice and its deliveries unless they already are (a retried activity). */
export function recordNotice(db: Db, n: NewNotice): Promise<void> {
  return db.transaction().execute((trx) => insertNotice(trx, n));
}

/** `recordNotice` inside a transaction of the caller's (a lifecycle transition and the notice telling of it). */
export async function insertNotice(trx: Transaction<Database>, n: NewNotice): Promise<void> {
  await trx
    .insertInto('notifications')
    .values({
      id: n.id,
      partner_id: n.partnerId,
      kind: n.kind,
      recipients: JSON.stringify(n.recipients),
      payload: n.payload,
      status: n.deliveries.length > 0 ? 'pending' : 'not_configured',
      attempts: 0,
      last_error: null,
      created_at: n.at,
      delivered_at: null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  for (const d of n.deliveries) {
    await trx
      .insertInto('notice_deliveries')
      .values({ notification_id: n.id, endpoint: d.endpoint, status: 'pending', attempts: 0, next_attempt_at: n.at, retry_until: d.retryUntil, lease_until: null, last_error: null, created_at: n.at, delivered_at: null })
      .onConflict((oc) => oc.columns(['notification_id', 'endpoint']).doNothing())
      .execute();
  }
}

export interface ClaimedDelivery {
  notificationId: string;
  endpoint: string;
  payload: string;
  attempts: number;
  retryUntil: string;
  /** the claim: the outcome is recorded only while the row is still held by it */
  leaseUntil: string;
}

/**
 * Claims up to `limit` due deliveries (of one notice, or any) for `leaseMs`: each row is taken by a
 * conditional update, so two workers never attempt the same delivery at once; a worker that dies
 * mid-attempt leaves a lease that simply runs out.
 */
export async function claimDueDeliveries(db: Db, opts: { now: Date; leaseMs: number; limit: number; notificationId?: string }): Promise<ClaimedDelivery[]> {
  const now = opts.now.toISOString();
  let query = db
    .selectFrom('notice_deliveries as d')
    .innerJoin('notifications as n', 'n.id', 'd.notification_id')
    .select(['d.notification_id', 'd.endpoint', 'd.attempts', 'd.retry_until', 'n.payload'])
    .where('d.status', '=', 'pending')
    .where('d.next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<', now)]))
    .orderBy('d.next_attempt_at')
    .limit(opts.limit);
  if (opts.notificationId) query = query.where('d.notification_id', '=', opts.notificationId);
  const candidates = await query.execute();
  const leaseUntil = new Date(opts.now.getTime() + opts.leaseMs).toISOString();
  const claimed: ClaimedDelivery[] = [];
  for (const c of candidates) {
    // every condition of the select again: another worker may have attempted it meanwhile and put
    // its next attempt in the future; the row's own attempt count, not the stale one read above
    const taken = await db
      .updateTable('notice_deliveries')
      .set({ lease_until: leaseUntil })
      .where('notification_id', '=', c.notification_id)
      .where('endpoint', '=', c.endpoint)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .returning(['attempts', 'retry_until'])
      .executeTakeFirst();
    if (taken) {
      claimed.push({ notificationId: c.notification_id, endpoint: c.endpoint, payload: c.payload, attempts: taken.attempts, retryUntil: taken.retry_until, leaseUntil });
    }
  }
  return claimed;
}

/** The outcome of one attempt: delivered, failed with a next attempt, or dead (no next attempt). */
export type AttemptOutcome = { delivered: true } | { delivered: false; error: string; nextAttemptAt: string | undefined };

/**
 * Records one attempt's outcome and the notice's summary, in one transaction that first locks the
 * notice's row: the attempts of one notice to several endpoints finish together, and each must see
 * the others' outcomes to sum them up (without the lock, on Postgres, the last to commit wrote a
 * summary blind to the others'). An outcome whose claim has lapsed (another worker took the row
 * over) is dropped: the later claim's outcome is the one that counts.
 */
export function recordAttempt(db: Db, d: Pick<ClaimedDelivery, 'notificationId' | 'endpoint' | 'leaseUntil'>, outcome: AttemptOutcome, at: Date): Promise<void> {
  return db.transaction().execute(async (trx) => {
    await lockForUpdate(trx, trx.selectFrom('notifications').select('id').where('id', '=', d.notificationId)).executeTakeFirst();
    const error = outcome.delivered ? null : outcome.error.slice(0, 500);
    const updated = await trx
      .updateTable('notice_deliveries')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        lease_until: null,
        last_error: error,
        ...(outcome.delivered
          ? { status: 'delivered' as const, delivered_at: at.toISOString() }
          : outcome.nextAttemptAt
            ? { next_attempt_at: outcome.nextAttemptAt }
            : { status: 'dead' as const }),
      }))
      .where('notification_id', '=', d.notificationId)
      .where('endpoint', '=', d.endpoint)
      .where('status', '=', 'pending')
      .where('lease_until', '=', d.leaseUntil)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return;
    const states = await trx.selectFrom('notice_deliveries').select('status').where('notification_id', '=', d.notificationId).execute();
    const status = states.some((s) => s.status === 'dead') ? 'failed' : states.every((s) => s.status === 'delivered') ? 'delivered' : 'pending';
    await trx
      .updateTable('notifications')
      .set((eb) => ({ status, attempts: eb('attempts', '+', 1), last_error: error, ...(status === 'delivered' ? { delivered_at: at.toISOString() } : {}) }))
      .where('id', '=', d.notificationId)
      .execute();
  });
}

export interface DeadLetter {
  notificationId: string;
  endpoint: string;
  kind: string;
  partnerId: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
}

/** Deliveries that gave up, newest first. */
export async function deadLetters(db: Db, limit: number): Promise<DeadLetter[]> {
  const rows = await db
    .selectFrom('notice_deliveries as d')
    .innerJoin('notifications as n', 'n.id', 'd.notification_id')
    .select(['d.notification_id', 'd.endpoint', 'n.kind', 'n.partner_id', 'd.attempts', 'd.last_error', 'd.created_at'])
    .where('d.status', '=', 'dead')
    .orderBy('d.created_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ notificationId: r.notification_id, endpoint: r.endpoint, kind: r.kind, partnerId: r.partner_id, attempts: r.attempts, lastError: r.last_error, createdAt: r.created_at }));
}

/**
 * Puts a notice's dead deliveries (to one endpoint, or all) back in the queue with a new retry
 * window, with its audit event, in one transaction. The number of deliveries requeued (0: nothing dead).
 */
export function redeliver(db: Db, q: { notificationId: string; endpoint?: string; at: Date; retryUntil: string }, audit: Pick<AuditEventInput, 'actor' | 'reason'>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // the notice first, as recordAttempt locks it: one order of locks everywhere
    await lockForUpdate(trx, trx.selectFrom('notifications').select('id').where('id', '=', q.notificationId)).executeTakeFirst();
    let update = trx
      .updateTable('notice_deliveries')
      .set({ status: 'pending', next_attempt_at: q.at.toISOString(), retry_until: q.retryUntil, lease_until: null })
      .where('notification_id', '=', q.notificationId)
      .where('status', '=', 'dead');
    if (q.endpoint) update = update.where('endpoint', '=', q.endpoint);
    const requeued = Number((await update.executeTakeFirst()).numUpdatedRows);
    if (requeued === 0) return 0;
    const notice = await trx.selectFrom('notifications').select(['partner_id', 'kind']).where('id', '=', q.notificationId).executeTakeFirstOrThrow();
    const stillDead = await trx.selectFrom('notice_deliveries').select('endpoint').where('notification_id', '=', q.notificationId).where('status', '=', 'dead').executeTakeFirst();
    if (!stillDead) await trx.updateTable('notifications').set({ status: 'pending' }).where('id', '=', q.notificationId).execute();
    await appendAudit(trx, {
      eventKey: `notice-redelivery:${q.notificationId}:${q.endpoint ?? '*'}:${q.at.toISOString()}`,
      at: q.at.toISOString(),
      actor: audit.actor,
      action: 'notice.redelivery_requested',
      partnerId: notice.partner_id,
      reason: audit.reason ?? null,
      details: { notificationId: q.notificationId, kind: notice.kind, endpoint: q.endpoint ?? null, deliveries: requeued },
    });
    return requeued;
  });
}
