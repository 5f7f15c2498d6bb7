import type { UpdateDefinition } from '@temporalio/common';
import { z } from 'zod';
import { appendAudit } from '../schema/repositories/audit.js';
import { approvalStages, isTerminal, partnerStates } from '../domain/partner-states.js';
import type { Db } from '../schema/db.js';
import {
  actorLabel,
  emergencyRevokeSignal,
  workflowIdFor,
  type Actor,
  type CommandResult,
  type RevocationInput,
} from '../workflows/messages.js';
import type { Principal } from './auth.js';
import type { AppDeps } from './deps.js';
import { problems } from './problem.js';

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
 * Emergency revocation, part one: in one durable transaction every key of the partner is marked
 * revoked and the partner is `revoked`, with the audit event, and the signal for the workflow is
 * written to the `pending_signals` outbox. Introspection refuses the keys from this commit on,
 * whatever the workflow or Temporal are doing; and because the signal is committed with the
 * revocation, an API that dies right after the commit cannot leave the workflow uninformed (the
 * redelivery loop sends it). Returns the keys revoked and the outbox row, or undefined when the
 * partner had already ended.
 */
export async function revokeInDatabase(
  db: Db,
  partnerId: string,
  input: RevocationInput,
): Promise<{ keysRevoked: number; outboxId: number } | undefined> {
  const { reason, at } = input;
  return db.transaction().execute(async (trx) => {
    const partner = await trx.selectFrom('partners').select(['state']).where('id', '=', partnerId).executeTakeFirstOrThrow();
    if (isTerminal(partner.state)) return undefined;
    const keys = await trx
      .updateTable('credentials')
      .set({ status: 'revoked', revoked_at: at, revoke_reason: `emergency revocation: ${reason}` })
      .where('partner_id', '=', partnerId)
      .where('status', '=', 'active')
      .executeTakeFirst();
    await trx.updateTable('credential_pickups').set({ sealed: null }).where('partner_id', '=', partnerId).execute();
    await trx
      .updateTable('partners')
      .set({ state: 'revoked', stage: null, end_reason: reason, ended_at: at, updated_at: at, next_deadline_at: null, next_deadline_action: null })
      .where('id', '=', partnerId)
      .execute();
    await appendAudit(trx, {
      eventKey: `${partnerId}:emergency-revocation`,
      at,
      actor: actorLabel(input.actor),
      action: 'partner.revocation_requested',
      partnerId,
      before: partner.state,
      after: 'revoked',
      reason,
      details: { keysRevoked: Number(keys.numUpdatedRows) },
    });
    const outbox = await trx
      .insertInto('pending_signals')
      .values({
        workflow_id: workflowIdFor(partnerId),
        signal: emergencyRevokeSignal.name,
        args: JSON.stringify([input]),
        created_at: at,
        attempts: 0,
        last_error: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { keysRevoked: Number(keys.numUpdatedRows), outboxId: outbox.id };
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
    await deps.db.deleteFrom('pending_signals').where('id', '=', outboxId).execute();
    return true;
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message, partnerId }, 'revocation signal not delivered; queued for redelivery');
    await deps.db
      .updateTable('pending_signals')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: String((err as Error).message).slice(0, 500) }))
      .where('id', '=', outboxId)
      .execute();
    return false;
  }
}

/** Re-sends queued signals; a workflow that has already finished needs none. Returns how many were delivered. */
export async function redeliverPendingSignals(deps: Pick<AppDeps, 'db' | 'temporal' | 'logger'>, minAgeMs = 3000): Promise<number> {
  // Rows younger than a few seconds belong to a request that is still sending its own signal.
  const settled = new Date(Date.now() - minAgeMs).toISOString();
  const pending = await deps.db.selectFrom('pending_signals').selectAll().where('created_at', '<=', settled).orderBy('id').limit(100).execute();
  let delivered = 0;
  for (const row of pending) {
    try {
      await deps.temporal.client.withDeadline(Date.now() + 3000, () =>
        deps.temporal.client.workflow.getHandle(row.workflow_id).signal(row.signal, ...(JSON.parse(row.args) as unknown[])),
      );
      await deps.db.deleteFrom('pending_signals').where('id', '=', row.id).execute();
      delivered++;
    } catch (err) {
      const finished = (err as Error).name === 'WorkflowNotFoundError';
      if (finished) {
        await deps.db.deleteFrom('pending_signals').where('id', '=', row.id).execute();
        continue;
      }
      await deps.db
        .updateTable('pending_signals')
        .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: String((err as Error).message).slice(0, 500) }))
        .where('id', '=', row.id)
        .execute();
      break; // Temporal still down: try again next round
    }
  }
  return delivered;
}
