import { ApplicationFailure } from '@temporalio/common';
import type { GrantAndActivateInput, GrantAndActivateResult, PartnerEndedFailure, TransitionRecord, TransitionResult } from '../domain/lifecycle-records.js';
import type { Db } from '../schema/db.js';
import { firstAuditEvent } from '../schema/repositories/audit.js';
import { recordTransition } from '../schema/repositories/lifecycle.js';
import { findPartner } from '../schema/repositories/partners.js';
import { gatherUsageEvidence, issueCredential } from './credentials.js';
import { firstAttempt, noticeRow, type NoticeDeps } from './notifications.js';
import type { Actor, Environment, RevocationInput } from '../workflows/messages.js';
import { reviewDriftOf, withReviewFacts, type OpenReviewInput, type OpenReviewResult } from '../workflows/review-opening.js';
import type { LifecyclePolicy } from '../workflows/state.js';

/**
 * Applies one workflow transition (schema/repositories/lifecycle.ts `recordTransition`: idempotent,
 * ordered, refused on a revoked row) with the notice telling of it, in one transaction; then starts
 * that notice's first delivery.
 */
export async function applyTransition(deps: NoticeDeps, { notice, ...t }: TransitionRecord): Promise<TransitionResult> {
  const row = notice && noticeRow(deps.webhooks, notice);
  const result = await recordTransition(deps.db, t, row);
  // The API commits the row before it starts the workflow and never deletes it: retrying against a
  // missing row cannot help.
  if (!result) throw ApplicationFailure.create({ type: 'PartnerMissing', message: `no partner row ${t.partnerId}`, nonRetryable: true });
  if (row && result.applied) firstAttempt(deps, row);
  return result;
}

/**
 * The last approval, the first key and the opening of access in one activity, in that order, each
 * exactly as its own activity writes it (`applyTransition`, `issueCredential`) and each idempotent
 * on its own key, so a retry after any of them writes only what is missing. It stops at the first
 * the database refuses because the API revoked the partner: what comes after is not written.
 */
export async function grantAndActivate(deps: NoticeDeps & { pickupKey: Buffer }, input: GrantAndActivateInput): Promise<GrantAndActivateResult> {
  const revoked = (written: TransitionResult, t: TransitionRecord) => written.state === 'revoked' && t.to !== 'revoked';
  if (revoked(await applyTransition(deps, input.grant), input.grant)) return { refused: 'revoked' };
  let issued;
  try {
    issued = await issueCredential(deps.db, deps.pickupKey, input.issue);
  } catch (err) {
    const ended: PartnerEndedFailure = 'PartnerEnded';
    if (err instanceof ApplicationFailure && err.type === ended) return { refused: 'revoked' };
    throw err;
  }
  const { activation } = input;
  const opened: TransitionRecord = {
    ...activation,
    details: { ...activation.details, keyId: issued.keyId, prefix: issued.prefix, expiresAt: issued.expiresAt },
    ...(activation.notice ? { notice: { ...activation.notice, data: { ...activation.notice.data, keyId: issued.keyId } } } : {}),
  };
  if (revoked(await applyTransition(deps, opened), opened)) return { refused: 'revoked' };
  return { issued };
}

/**
 * A review's opening in one activity: the usage evidence and today's policy read, the grant held
 * to that policy, and `recertification.opened` with its notice written as `applyTransition`
 * writes it (workflows/review-opening.ts words what was found). Idempotent by the record's
 * sequence: a retry after the commit writes nothing, and answers the policy as it reads then.
 */
export async function openReview(deps: NoticeDeps & { lifecyclePolicy: (environment: Environment) => LifecyclePolicy }, input: OpenReviewInput): Promise<OpenReviewResult> {
  const { opening, grant, environment } = input;
  const evidence = await gatherUsageEvidence(deps.db, opening.partnerId);
  const policy = deps.lifecyclePolicy(environment);
  const written = await applyTransition(deps, withReviewFacts(opening, evidence, reviewDriftOf(grant, policy)));
  return { written, policy };
}

/**
 * The emergency revocation the API recorded for this partner (`api/commands.ts`
 * `revokeInDatabase`): reason, actor and time from its audit event. The workflow adopts it when
 * an activity finds the row revoked and no signal has told it: the database is the source of
 * truth, the signal only the wake-up. Null when the row is not revoked.
 */
export async function recordedRevocation(db: Db, partnerId: string): Promise<RevocationInput | null> {
  const row = await findPartner(db, partnerId);
  if (row?.state !== 'revoked') return null;
  const event = await firstAuditEvent(db, partnerId, 'partner.revocation_requested');
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
