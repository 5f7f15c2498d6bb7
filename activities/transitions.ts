import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../schema/db.js';
import { terminalStates } from '../domain/partner-states.js';
import type { PartnerUpdate } from '../schema/database.js';
import { appendAudit } from '../schema/repositories/audit.js';
import type { Actor, RevocationInput } from '../workflows/messages.js';
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
 * changes nothing. A row that ended outside the workflow (the API's emergency revocation) takes
 * nothing more: no state, no record, no audit event that would say a step happened after it. The
 * result then names that state, and the workflow adopts the revocation.
 */
export async function applyTransition(db: Db, t: TransitionRecord): Promise<TransitionResult> {
  return db.transaction().execute(async (trx) => {
    // Transactions begin immediate (schema/db.ts): the row read here cannot change before commit.
    const current = await trx
      .selectFrom('partners')
      .select(['state', 'transition_seq'])
      .where('id', '=', t.partnerId)
      .executeTakeFirst();
    // The API commits the row before it starts the workflow and never deletes it: retrying
    // against a missing row cannot help.
    if (!current) throw ApplicationFailure.create({ type: 'PartnerMissing', message: `no partner row ${t.partnerId}`, nonRetryable: true });
    if (terminalStates.includes(current.state) && current.state !== t.to) return { applied: false, state: current.state };

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
    return { applied: true, state: t.patch.state ?? current.state };
  });
}

/**
 * The emergency revocation the API recorded for this partner (`api/commands.ts`
 * `revokeInDatabase`): reason, actor and time from its audit event. The workflow adopts it when
 * an activity finds the row revoked and no signal has told it: the database is the source of
 * truth, the signal only the wake-up. Null when the row is not revoked.
 */
export async function recordedRevocation(db: Db, partnerId: string): Promise<RevocationInput | null> {
  const row = await db.selectFrom('partners').select(['state', 'end_reason', 'ended_at']).where('id', '=', partnerId).executeTakeFirst();
  if (row?.state !== 'revoked') return null;
  const event = await db
    .selectFrom('audit_events')
    .select(['actor', 'reason', 'at'])
    .where('partner_id', '=', partnerId)
    .where('action', '=', 'partner.revocation_requested')
    .orderBy('seq')
    .executeTakeFirst();
  if (!event) {
    // a row revoked without the API's event (edited by hand): still revoked, by an unnamed hand
    return { reason: row.end_reason ?? 'revoked in the database', actor: { kind: 'system', name: 'database' }, at: row.ended_at ?? new Date().toISOString() };
  }
  return { reason: event.reason ?? row.end_reason ?? 'revoked', actor: actorFromLabel(event.actor), at: event.at };
}

/** The audit trail names actors by label; the lifecycle only ever turns them back into that label. */
function actorFromLabel(label: string): Actor {
  const [kind, ...rest] = label.split(':');
  const name = rest.join(':');
  // roles are not part of the record; nothing downstream of a revocation reads them
  if (kind === 'operator') return { kind: 'operator', name, roles: [] };
  if (kind === 'partner') return { kind: 'partner', partnerId: name };
  return { kind: 'system', name: name || label };
}
