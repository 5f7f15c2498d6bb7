import type { UpdateDefinition } from '@temporalio/common';
import { z } from 'zod';
import { appendAudit } from '../activities/audit.js';
import { terminalStates } from '../schema/database.js';
import type { Db } from '../schema/db.js';
import {
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

const stateSchema = z.enum(['pending_approval', 'active', 'recertification_due', 'suspended', 'rejected', 'request_expired', 'offboarded', 'revoked']);
const commandResultSchema = z.strictObject({
  state: stateSchema,
  stage: z.enum(['sponsor', 'security']).nullable(),
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
  if ((terminalStates as readonly string[]).includes(state)) throw problems.conflict(`the partner is ${state}`);
}

/**
 * Emergency revocation, part one: in one durable transaction every key of the partner is marked
 * revoked and the partner is `revoked`, with the audit event. Introspection refuses the keys from
 * this commit on, whatever the workflow or Temporal are doing. Returns the number of keys revoked,
 * or undefined when the partner had already ended.
 */
export async function revokeInDatabase(db: Db, partnerId: string, actor: string, reason: string, at: string): Promise<number | undefined> {
  return db.transaction().execute(async (trx) => {
    const partner = await trx.selectFrom('partners').select(['state']).where('id', '=', partnerId).executeTakeFirstOrThrow();
    if ((terminalStates as readonly string[]).includes(partner.state)) return undefined;
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
      actor,
      action: 'partner.revocation_requested',
      partnerId,
      before: partner.state,
      after: 'revoked',
      reason,
      details: { keysRevoked: Number(keys.numUpdatedRows) },
    });
    return Number(keys.numUpdatedRows);
  });
}

/**
 * Part two: tell the workflow. A Signal is durable once Temporal accepts it, even with no worker
 * running; when Temporal itself is unreachable it waits in `pending_signals` and is re-sent.
 */
export async function signalRevocation(deps: AppDeps, partnerId: string, input: RevocationInput): Promise<boolean> {
  try {
    await deps.temporal.client.withDeadline(Date.now() + 3000, () =>
      deps.temporal.client.workflow.getHandle(workflowIdFor(partnerId)).signal(emergencyRevokeSignal, input),
    );
    return true;
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message, partnerId }, 'revocation signal not delivered; queued for redelivery');
    await deps.db
      .insertInto('pending_signals')
      .values({
        workflow_id: workflowIdFor(partnerId),
        signal: emergencyRevokeSignal.name,
        args: JSON.stringify([input]),
        created_at: new Date().toISOString(),
        attempts: 1,
        last_error: String((err as Error).message).slice(0, 500),
      })
      .execute();
    return false;
  }
}

/** Re-sends queued signals; a workflow that has already finished needs none. Returns how many were delivered. */
export async function redeliverPendingSignals(deps: Pick<AppDeps, 'db' | 'temporal' | 'logger'>): Promise<number> {
  const pending = await deps.db.selectFrom('pending_signals').selectAll().orderBy('id').limit(100).execute();
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
