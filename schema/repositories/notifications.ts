import type { NotificationsTable } from '../database.js';
import type { Db } from '../db.js';

/** The notice outbox: each notice once (keyed by its id), with its delivery status. */

export interface NewNotice {
  id: string;
  partnerId: string;
  kind: string;
  recipients: string[];
  payload: string;
  /** `pending` when a webhook will deliver it, `not_configured` when none is */
  status: 'pending' | 'not_configured';
  at: string;
}

/** Records the notice unless it already is (a retried activity). */
export async function recordNotice(db: Db, n: NewNotice): Promise<void> {
  await db
    .insertInto('notifications')
    .values({
      id: n.id,
      partner_id: n.partnerId,
      kind: n.kind,
      recipients: JSON.stringify(n.recipients),
      payload: n.payload,
      status: n.status,
      attempts: 0,
      last_error: null,
      created_at: n.at,
      delivered_at: null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** What is stored for a notice: a retry delivers the payload the first attempt recorded, and never a delivered one again. */
export function storedNotice(db: Db, id: string): Promise<Pick<NotificationsTable, 'status' | 'payload'>> {
  return db.selectFrom('notifications').select(['status', 'payload']).where('id', '=', id).executeTakeFirstOrThrow();
}

export async function noticeDelivered(db: Db, id: string, at: string): Promise<void> {
  await db
    .updateTable('notifications')
    .set((eb) => ({ status: 'delivered', delivered_at: at, attempts: eb('attempts', '+', 1), last_error: null }))
    .where('id', '=', id)
    .execute();
}

/** One failed delivery; `final` when no attempt follows (the notice stays failed). */
export async function noticeAttemptFailed(db: Db, id: string, error: string, final: boolean): Promise<void> {
  await db
    .updateTable('notifications')
    .set((eb) => ({ status: final ? 'failed' : 'pending', attempts: eb('attempts', '+', 1), last_error: error.slice(0, 500) }))
    .where('id', '=', id)
    .execute();
}
