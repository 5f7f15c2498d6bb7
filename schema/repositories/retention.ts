import { isTerminal } from '../../domain/partner-states.js';
import { retentionOf, type Policy } from '../../config/policy.js';
import type { Db } from '../db.js';
import { lockForUpdate } from '../dialect.js';
import { appendAudit, type AuditEventInput } from './audit.js';

/**
 * Retention and erasure (issue #16, item 11). What is pruned is what the audit trail does not need:
 * notices no delivery still waits for, and per-day usage counts. The audit trail itself is never
 * pruned or edited; personal data (a partner's name, contact, justification) never enters it, so
 * erasing that data leaves the chain verifying.
 */

/** Deletes notices older than `before` that no delivery waits for (pending ones stay until they end). */
export async function pruneNotifications(db: Db, before: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // decided on the deliveries themselves: a notice is done when none of its deliveries is pending
    const done = await trx
      .selectFrom('notifications as n')
      .select('n.id')
      .where('n.created_at', '<', before)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('notice_deliveries as d').select('d.endpoint').whereRef('d.notification_id', '=', 'n.id').where('d.status', '=', 'pending'))),
      )
      .execute();
    let deleted = 0;
    // in batches: one statement never names more ids than a driver binds
    for (let i = 0; i < done.length; i += 500) {
      const ids = done.slice(i, i + 500).map((r) => r.id);
      await trx.deleteFrom('notice_deliveries').where('notification_id', 'in', ids).execute();
      deleted += Number((await trx.deleteFrom('notifications').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
    }
    return deleted;
  });
}

/** Deletes usage counts of days before `beforeDay` (YYYY-MM-DD); a key's last use stays on the key. */
export async function pruneUsageCounters(db: Db, beforeDay: string): Promise<number> {
  const deleted = await db.deleteFrom('usage_counters').where('day', '<', beforeDay).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

/** Prunes what the policy's `retention` (or its defaults) no longer keeps; what was deleted. */
export async function applyRetention(db: Db, policy: Policy, now = Date.now()): Promise<{ notifications: number; usageCounters: number }> {
  const keep = retentionOf(policy);
  return {
    notifications: await pruneNotifications(db, new Date(now - keep.notificationsMs).toISOString()),
    usageCounters: await pruneUsageCounters(db, new Date(now - keep.usageCountersMs).toISOString().slice(0, 10)),
  };
}

export const ERASED = '[erased]';

export type ErasureOutcome = { erased: true; at: string } | { erased: false; reason: 'not_found' | 'not_ended' };

/**
 * Overwrites an ended partner's name, contact and justification and deletes its notices (whose
 * payloads and recipients may name it), with the audit event, in one transaction. Erasing twice
 * answers the first erasure's time and writes nothing.
 */
export function erasePartnerContact(db: Db, partnerId: string, at: string, audit: Pick<AuditEventInput, 'actor' | 'reason'>): Promise<ErasureOutcome> {
  return db.transaction().execute(async (trx) => {
    const partner = await lockForUpdate(trx, trx.selectFrom('partners').select(['state', 'erased_at']).where('id', '=', partnerId)).executeTakeFirst();
    if (!partner) return { erased: false, reason: 'not_found' };
    if (!isTerminal(partner.state)) return { erased: false, reason: 'not_ended' };
    if (partner.erased_at) return { erased: true, at: partner.erased_at };
    await trx.updateTable('partners').set({ name: ERASED, contact_email: ERASED, justification: ERASED, erased_at: at, updated_at: at }).where('id', '=', partnerId).execute();
    const notices = trx.selectFrom('notifications').select('id').where('partner_id', '=', partnerId);
    await trx.deleteFrom('notice_deliveries').where('notification_id', 'in', notices).execute();
    const deleted = await trx.deleteFrom('notifications').where('partner_id', '=', partnerId).executeTakeFirst();
    await appendAudit(trx, {
      eventKey: `erasure:${partnerId}`,
      at,
      actor: audit.actor,
      action: 'partner.contact_erased',
      partnerId,
      reason: audit.reason ?? null,
      // what was erased, never what it was
      details: { fields: ['name', 'contact_email', 'justification'], noticesDeleted: Number(deleted.numDeletedRows) },
    });
    return { erased: true, at };
  });
}
