import type { UpdateDefinition } from '@temporalio/common';
import { z } from 'zod';
import { mayChangeRateTier, mayHandOverSponsor, maySponsor, maySuspend, sponsorSuccessorProblem, type Permission } from '../domain/access-rules.js';
import { approvalStages, isTerminal, partnerStates } from '../domain/partner-states.js';
import type { Db } from '../schema/db.js';
import { recordEmergencyRevocation } from '../schema/repositories/lifecycle.js';
import { activeOperatorRoles } from '../schema/repositories/operators.js';
import { queuedSignals, signalAttemptFailed, dequeueSignal } from '../schema/repositories/outbox.js';
import {
  actorLabel,
  changeRateTierUpdate,
  changeSponsorUpdate,
  emergencyRevokeSignal,
  resumeUpdate,
  suspendUpdate,
  workflowIdFor,
  type Actor,
  type CommandResult,
  type RevocationInput,
} from '../workflows/messages.js';
import { operatorOf, type Principal } from './auth.js';
import type { AppDeps } from './deps.js';
import { loadVisiblePartner, partnerFacts } from './partner-view.js';
import { Problem, problems } from './problem.js';

/** The workflow-side identity of the caller. */
export function actorFor(principal: Principal, partnerId: string): Actor {
  if (principal.kind === 'operator') return { kind: 'operator', name: principal.name, roles: principal.roles };
  if (principal.kind === 'request_token' || principal.kind === 'partner_key') return { kind: 'partner', partnerId };
  throw problems.unauthorized();
}

/**
 * Sends a decision-like Update and waits for the workflow's answer, bounded: with no worker to
 * take it in time the caller gets 503 + Retry-After instead of a request that hangs.
 */
export async function runUpdate<Arg>(
  deps: AppDeps,
  partnerId: string,
  update: UpdateDefinition<CommandResult, [Arg]>,
  arg: Arg,
): Promise<CommandResult> {
  const { client } = deps.temporal;
  const handle = client.workflow.getHandle(workflowIdFor(partnerId));
  const result = await client.withDeadline(Date.now() + (deps.updateDeadlineMs ?? 10_000), () => handle.executeUpdate(update, { args: [arg] }));
  // What comes back from Temporal is checked like any other input before we act on it (API10).
  const checked = commandResultSchema.safeParse(result);
  if (!checked.success) throw new Error(`unexpected update result from the workflow: ${checked.error.issues[0]?.message}`);
  return checked.data;
}

const commandResultSchema = z.strictObject({
  state: z.enum(partnerStates),
  stage: z.enum(approvalStages).nullable(),
  issued: z.strictObject({ keyId: z.string().regex(/^[0-9A-Za-z]{16}$/), expiresAt: z.string() }).optional(),
  retiring: z.strictObject({ keyId: z.string().regex(/^[0-9A-Za-z]{16}$/), retireAt: z.string() }).optional(),
  accessUntil: z.string().optional(),
});

export const commandResponse = (partnerId: string, result: CommandResult) => ({
  partnerId,
  state: result.state,
  pendingStage: result.stage,
  ...(result.accessUntil ? { accessUntil: result.accessUntil } : {}),
  ...(result.issued ? { keyId: result.issued.keyId } : {}),
});

/** Refuses commands on a partner whose lifecycle has ended, from the read model, before Temporal. */
export function assertNotEnded(state: string): void {
  if (isTerminal(state)) throw problems.conflict(`the partner is ${state}`);
}

/**
 * Emergency revocation, part one: the keys, the partner, the audit event and the workflow's signal
 * in one transaction (schema/repositories/lifecycle.ts `recordEmergencyRevocation`). Returns the
 * keys revoked and the outbox row, or undefined when the partner had already ended.
 */
export function revokeInDatabase(db: Db, partnerId: string, input: RevocationInput): Promise<{ keysRevoked: number; outboxId: number } | undefined> {
  const { reason, at } = input;
  return recordEmergencyRevocation(db, {
    partnerId,
    reason,
    at,
    audit: { eventKey: `${partnerId}:emergency-revocation`, at, actor: actorLabel(input.actor), action: 'partner.revocation_requested', partnerId, after: 'revoked', reason },
    signal: { workflowId: workflowIdFor(partnerId), signal: emergencyRevokeSignal.name, args: [input], at },
  });
}

/**
 * Part two: tell the workflow now. A Signal is durable once Temporal accepts it, even with no
 * worker running; its outbox row is then deleted. When Temporal is unreachable the row stays and
 * `redeliverPendingSignals` re-sends it (the workflow takes the first revocation and ignores a
 * repeat, so a signal sent twice is harmless).
 */
export async function signalRevocation(deps: AppDeps, partnerId: string, input: RevocationInput, outboxId: number): Promise<boolean> {
  try {
    await deps.temporal.client.withDeadline(Date.now() + 3000, () =>
      deps.temporal.client.workflow.getHandle(workflowIdFor(partnerId)).signal(emergencyRevokeSignal, input),
    );
    await dequeueSignal(deps.db, outboxId);
    return true;
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message, partnerId }, 'revocation signal not delivered; queued for redelivery');
    await signalAttemptFailed(deps.db, outboxId, String((err as Error).message));
    return false;
  }
}

/** Re-sends queued signals; a workflow that has already finished needs none. Returns how many were delivered. */
export async function redeliverPendingSignals(deps: Pick<AppDeps, 'db' | 'temporal' | 'logger'>, minAgeMs = 3000): Promise<number> {
  // Rows younger than a few seconds belong to a request that is still sending its own signal.
  const settled = new Date(Date.now() - minAgeMs).toISOString();
  const pending = await queuedSignals(deps.db, settled);
  let delivered = 0;
  for (const row of pending) {
    try {
      await deps.temporal.client.withDeadline(Date.now() + 3000, () =>
        deps.temporal.client.workflow.getHandle(row.workflowId).signal(row.signal, ...row.args),
      );
      await dequeueSignal(deps.db, row.id);
      delivered++;
    } catch (err) {
      const finished = (err as Error).name === 'WorkflowNotFoundError';
      if (finished) {
        await dequeueSignal(deps.db, row.id);
        continue;
      }
      await signalAttemptFailed(deps.db, row.id, String((err as Error).message));
      break; // Temporal still down: try again next round
    }
  }
  return delivered;
}

// ---- governance commands (issue #16): services the HTTP handlers and the console pages call ----

/** A refused access rule (domain/access-rules.ts) as the API's 403, with the rule's reason. */
export const allow = (permission: Permission) => {
  if (!permission.ok) throw problems.forbidden(permission.reason);
};

/**
 * Security suspends a live partner (reversible): the workflow moves it to `suspended`, which
 * refuses its keys at introspection and, through the change feed, at every edge gateway, from the
 * transition's commit, before this returns. Audited with the reason.
 */
export async function suspendPartner(deps: AppDeps, principal: Principal, partnerId: string, body: { reason: string }) {
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  allow(maySuspend(operatorOf(principal)));
  assertNotEnded(partner.state);
  return commandResponse(partnerId, await runUpdate(deps, partnerId, suspendUpdate, { ...body, actor: actorFor(principal, partnerId) }));
}

/** Security lifts its suspension: the partner returns to the state it was suspended from. */
export async function resumePartner(deps: AppDeps, principal: Principal, partnerId: string, body: { reason: string }) {
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  allow(maySuspend(operatorOf(principal)));
  assertNotEnded(partner.state);
  return commandResponse(partnerId, await runUpdate(deps, partnerId, resumeUpdate, { ...body, actor: actorFor(principal, partnerId) }));
}

/** The operator named sponsor (by a submission or a hand-over) must be one now (`maySponsor`); else 422. */
export async function assertSponsorable(deps: Pick<AppDeps, 'db'>, sponsor: string): Promise<void> {
  const permission = maySponsor(sponsor, await activeOperatorRoles(deps.db, sponsor));
  if (!permission.ok) throw problems.unprocessable(permission.reason);
}

/**
 * An admin or security hands a partner to another sponsor (audited, with the reason): a pending
 * stage-1 approval, a due review and an extension request follow the new sponsor.
 */
export async function changeSponsor(deps: AppDeps, principal: Principal, partnerId: string, body: { sponsor: string; reason: string }) {
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  allow(mayHandOverSponsor(operatorOf(principal)));
  assertNotEnded(partner.state);
  const problem = sponsorSuccessorProblem(partnerFacts(partner), body.sponsor);
  if (problem) throw problems.unprocessable(problem);
  await assertSponsorable(deps, body.sponsor);
  return commandResponse(partnerId, await runUpdate(deps, partnerId, changeSponsorUpdate, { ...body, actor: actorFor(principal, partnerId) }));
}

/**
 * Hands every partner `from` sponsors (pending or live) to `successor`, one workflow at a time,
 * before `from`'s revocation. A failure stops the hand-over where it is: the partners already
 * handed over stay with the successor, and a retry hands over the rest.
 */
export async function handOverSponsoredPartners(deps: AppDeps, principal: Principal, from: string, successor: string, reason: string, partnerIds: readonly string[]) {
  if (successor === from) throw problems.unprocessable('the successor cannot be the operator being revoked');
  await assertSponsorable(deps, successor);
  // every partner checked before any is handed over: a refusal halfway would leave the list split between two sponsors
  const refused: Array<{ partnerId: string; problem: string }> = [];
  for (const partnerId of partnerIds) {
    const problem = sponsorSuccessorProblem(partnerFacts(await loadVisiblePartner(deps.db, principal, partnerId)), successor);
    if (problem) refused.push({ partnerId, problem });
  }
  if (refused.length > 0) throw new Problem(422, 'Unprocessable Content', `${successor} cannot take over every partner of ${from}: name another successor, or hand these over first`, { partners: refused });
  for (const partnerId of partnerIds) {
    await changeSponsor(deps, principal, partnerId, { sponsor: successor, reason: `sponsor ${from} revoked: ${reason}` });
  }
}

/**
 * Security or an admin sets a live partner's rate tier (audited, with the reason); every gateway
 * enforces it from the transition's commit on (auth_request reads it, the edge hears of it through
 * the change feed).
 */
export async function changeRateTier(deps: AppDeps, principal: Principal, partnerId: string, body: { tier: string; reason: string }) {
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  allow(mayChangeRateTier(operatorOf(principal)));
  assertNotEnded(partner.state);
  return commandResponse(partnerId, await runUpdate(deps, partnerId, changeRateTierUpdate, { ...body, actor: actorFor(principal, partnerId) }));
}
