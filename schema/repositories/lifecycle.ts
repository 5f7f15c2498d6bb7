import { isTerminal } from '../../domain/partner-states.js';
import type { ReadModelPatch, TransitionRecord, TransitionResult } from '../../domain/lifecycle-records.js';
import type { PartnerUpdate } from '../database.js';
import type { Db } from '../db.js';
import { lockForUpdate } from '../dialect.js';
import { appendAudit, type AuditEventInput } from './audit.js';
import { insertNotice, type NewNotice } from './notifications.js';
import { enqueueSignal, type OutboxSignal } from './outbox.js';

/**
 * The lifecycle's writes: each workflow transition, and the API's emergency revocation, applied to
 * the partner, its keys, its records and the audit trail in one transaction.
 */

function toRow(patch: ReadModelPatch): PartnerUpdate {
  const row: PartnerUpdate = {};
  if (patch.state !== undefined) row.state = patch.state;
  if (patch.stage !== undefined) row.stage = patch.stage;
  if (patch.escalated !== undefined) row.escalated = patch.escalated ? 1 : 0;
  if (patch.sponsor !== undefined) row.sponsor = patch.sponsor;
  if (patch.rateLimitTier !== undefined) row.rate_limit_tier = patch.rateLimitTier;
  if (patch.suspendedBy !== undefined) row.suspended_by = patch.suspendedBy;
  if (patch.scopes !== undefined) row.scopes = JSON.stringify(patch.scopes);
  if (patch.accessUntil !== undefined) row.access_until = patch.accessUntil;
  if (patch.policyVersion !== undefined) row.policy_version = patch.policyVersion;
  if (patch.recertCycle !== undefined) row.recert_cycle = patch.recertCycle;
  if (patch.lastCertifiedAt !== undefined) row.last_certified_at = patch.lastCertifiedAt;
  if (patch.pendingExtension !== undefined) row.pending_extension = patch.pendingExtension && JSON.stringify(patch.pendingExtension);
  if (patch.plannedOffboarding !== undefined) row.planned_offboarding = patch.plannedOffboarding && JSON.stringify(patch.plannedOffboarding);
  if (patch.endReason !== undefined) row.end_reason = patch.endReason;
  if (patch.endedAt !== undefined) row.ended_at = patch.endedAt;
  if (patch.nextDeadline !== undefined) {
    row.next_deadline_at = patch.nextDeadline?.at ?? null;
    row.next_deadline_action = patch.nextDeadline?.action ?? null;
  }
  return row;
}

/**
 * Applies one workflow transition to the read model, its records and the audit trail in a single
 * transaction. Idempotent and ordered by the per-partner sequence: a retried or replayed write
 * changes nothing. A row that ended outside the workflow (the API's emergency revocation) takes
 * nothing more: no state, no record, no audit event that would say a step happened after it, no
 * notice. The result then names that state, and the workflow adopts the revocation. Undefined when
 * there is no such partner.
 */
export function recordTransition(db: Db, t: Omit<TransitionRecord, 'notice'>, notice?: NewNotice): Promise<TransitionResult | undefined> {
  return db.transaction().execute(async (trx) => {
    // The row read here cannot change before commit: SQLite transactions begin immediate, Postgres
    // locks the row (schema/dialect.ts). Partner row first, audit head second, everywhere.
    const current = await lockForUpdate(trx, trx.selectFrom('partners').select(['state', 'transition_seq']).where('id', '=', t.partnerId)).executeTakeFirst();
    if (!current) return undefined;
    if (isTerminal(current.state) && current.state !== t.to) return { applied: false, state: current.state };

    const fresh = await appendAudit(trx, {
      eventKey: `${t.partnerId}:t${t.seq}`,
      at: t.at,
      actor: t.actor,
      action: t.action,
      partnerId: t.partnerId,
      before: t.from,
      after: t.to,
      reason: t.reason ?? null,
      // a decision names the policy it was taken under, in the record nobody can rewrite
      details: (t.decision || t.recertification) && t.policyVersion ? { ...t.details, policyVersion: t.policyVersion } : (t.details ?? null),
    });
    if (!fresh || current.transition_seq >= t.seq) return { applied: false, state: current.state };

    await trx
      .updateTable('partners')
      .set({ ...toRow(t.patch), transition_seq: t.seq, updated_at: t.at })
      .where('id', '=', t.partnerId)
      .execute();

    if (t.decision) {
      await trx
        .insertInto('decisions')
        .values({
          partner_id: t.partnerId,
          step_key: `${t.partnerId}:t${t.seq}`,
          kind: t.decision.kind,
          stage: t.decision.stage,
          decision: t.decision.decision,
          actor: t.actor,
          reason: t.decision.reason,
          scopes: t.decision.scopes ? JSON.stringify(t.decision.scopes) : null,
          access_until: t.decision.accessUntil ?? null,
          at: t.at,
        })
        .execute();
    }
    if (t.recertification) {
      await trx
        .insertInto('recertifications')
        .values({
          partner_id: t.partnerId,
          cycle: t.recertification.cycle,
          decision: t.recertification.decision,
          actor: t.actor,
          reason: t.recertification.reason,
          scopes: t.recertification.scopes ? JSON.stringify(t.recertification.scopes) : null,
          evidence: t.recertification.evidence ? JSON.stringify(t.recertification.evidence) : null,
          at: t.at,
        })
        .execute();
    }
    if (t.retireKey) {
      await trx
        .updateTable('credentials')
        .set({ retire_at: t.retireKey.retireAt })
        .where('key_id', '=', t.retireKey.keyId)
        .where('partner_id', '=', t.partnerId)
        .execute();
    }
    if (t.credentialsExpireAt) {
      await trx
        .updateTable('credentials')
        .set({ expires_at: t.credentialsExpireAt })
        .where('partner_id', '=', t.partnerId)
        .where('status', '=', 'active')
        .where('retire_at', 'is', null)
        .execute();
    }
    if (t.revokeKeys) {
      let revoke = trx
        .updateTable('credentials')
        .set({ status: 'revoked', revoked_at: t.at, revoke_reason: t.revokeKeys.reason })
        .where('partner_id', '=', t.partnerId)
        .where('status', '=', 'active');
      if (t.revokeKeys.keyIds) revoke = revoke.where('key_id', 'in', t.revokeKeys.keyIds);
      await revoke.execute();
      // An unclaimed one-time copy of a dead key has no reason to exist.
      let wipe = trx.updateTable('credential_pickups').set({ sealed: null }).where('partner_id', '=', t.partnerId);
      if (t.revokeKeys.keyIds) wipe = wipe.where('key_id', 'in', t.revokeKeys.keyIds);
      await wipe.execute();
    }
    // the notice telling of the transition: written with it or not at all
    if (notice) await insertNotice(trx, notice);
    return { applied: true, state: t.patch.state ?? current.state };
  });
}

/**
 * Emergency revocation, recorded: in one durable transaction every key of the partner is marked
 * revoked and the partner is `revoked`, with the audit event and the signal for the workflow in the
 * outbox. Introspection refuses the keys from this commit on, whatever the workflow or Temporal are
 * doing; and because the signal is committed with the revocation, an API that dies right after the
 * commit cannot leave the workflow uninformed. Undefined when the partner had already ended.
 */
export function recordEmergencyRevocation(
  db: Db,
  r: { partnerId: string; reason: string; at: string; audit: Omit<AuditEventInput, 'before' | 'details'>; signal: OutboxSignal },
): Promise<{ keysRevoked: number; outboxId: number } | undefined> {
  return db.transaction().execute(async (trx) => {
    const partner = await lockForUpdate(trx, trx.selectFrom('partners').select(['state']).where('id', '=', r.partnerId)).executeTakeFirstOrThrow();
    if (isTerminal(partner.state)) return undefined;
    const keys = await trx
      .updateTable('credentials')
      .set({ status: 'revoked', revoked_at: r.at, revoke_reason: `emergency revocation: ${r.reason}` })
      .where('partner_id', '=', r.partnerId)
      .where('status', '=', 'active')
      .executeTakeFirst();
    const keysRevoked = Number(keys.numUpdatedRows);
    await trx.updateTable('credential_pickups').set({ sealed: null }).where('partner_id', '=', r.partnerId).execute();
    await trx
      .updateTable('partners')
      .set({ state: 'revoked', stage: null, end_reason: r.reason, ended_at: r.at, updated_at: r.at, next_deadline_at: null, next_deadline_action: null })
      .where('id', '=', r.partnerId)
      .execute();
    await appendAudit(trx, { ...r.audit, before: partner.state, details: { keysRevoked } });
    const outboxId = await enqueueSignal(trx, r.signal);
    return { keysRevoked, outboxId };
  });
}
