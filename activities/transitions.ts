import type { Db } from '../schema/db.js';
import { terminalStates, type PartnerUpdate } from '../schema/database.js';
import { appendAudit } from './audit.js';
import type { ReadModelPatch, TransitionRecord, TransitionResult } from './types.js';

function toRow(patch: ReadModelPatch): PartnerUpdate {
  const row: PartnerUpdate = {};
  if (patch.state !== undefined) row.state = patch.state;
  if (patch.stage !== undefined) row.stage = patch.stage;
  if (patch.escalated !== undefined) row.escalated = patch.escalated ? 1 : 0;
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
 * changes nothing. A terminal state set by the API (emergency revocation) is never overwritten.
 */
export async function applyTransition(db: Db, t: TransitionRecord): Promise<TransitionResult> {
  return db.transaction().execute(async (trx) => {
    // The audit append goes first: it takes the write lock before anything is read.
    const fresh = await appendAudit(trx, {
      eventKey: `${t.partnerId}:t${t.seq}`,
      at: t.at,
      actor: t.actor,
      action: t.action,
      partnerId: t.partnerId,
      before: t.from,
      after: t.to,
      reason: t.reason ?? null,
      details: t.details ?? null,
    });
    const current = await trx
      .selectFrom('partners')
      .select(['state', 'transition_seq'])
      .where('id', '=', t.partnerId)
      .executeTakeFirstOrThrow();
    if (!fresh || current.transition_seq >= t.seq) return { applied: false, state: current.state };

    const endedElsewhere = terminalStates.includes(current.state) && current.state !== t.to;
    const patch: PartnerUpdate = endedElsewhere
      ? { transition_seq: t.seq, updated_at: t.at }
      : { ...toRow(t.patch), transition_seq: t.seq, updated_at: t.at };
    await trx.updateTable('partners').set(patch).where('id', '=', t.partnerId).execute();

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
    if (t.credentialsExpireAt && !endedElsewhere) {
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
    return { applied: true, state: endedElsewhere ? current.state : (t.patch.state ?? current.state) };
  });
}
