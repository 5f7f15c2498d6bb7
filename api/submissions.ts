import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { PartnerRow } from '../schema/database.js';
import type { Db } from '../schema/db.js';
import { partnerEnvironmentKey, partnerSponsorKey } from '../runtime/search-attributes.js';
import { maySubmitOnBehalf, submitOnBehalfRoles } from '../domain/access-rules.js';
import { workflowIdFor, type Submission } from '../workflows/messages.js';
import type { partnerLifecycle } from '../workflows/partner-lifecycle.js';
import type { Principal } from './auth.js';
import { problems } from './problem.js';

export interface Submitter {
  /** recorded on the partner and its `partner.submitted` event */
  requestedBy: string;
  /** whose budget the submission spends and whose Idempotency-Keys it may replay */
  caller: string;
}

/**
 * Who may submit, and as whom: anyone anonymously (budgeted per client address), an operator
 * with a role of `submitOnBehalfRoles` (budgeted per operator); nobody else.
 */
export function submitterOf(principal: Principal, clientAddress: string): Submitter {
  if (principal.kind === 'anonymous') return { requestedBy: 'partner', caller: `source:${clientAddress}` };
  if (principal.kind !== 'operator') throw problems.forbidden('partners cannot submit requests for others');
  if (!maySubmitOnBehalf(principal.roles)) {
    throw problems.forbidden(
      `submitting on a partner's behalf needs one of the roles: ${submitOnBehalfRoles.join(', ')} (security decides independently of requests, auditors only read, gateways are machines)`,
    );
  }
  return { requestedBy: `operator:${principal.name}`, caller: `operator:${principal.name}` };
}

/**
 * A submission the workflow has never touched: the only kind that may be (re)started. Anything
 * the workflow has written (transition_seq > 0), or that ended in the database (an emergency
 * revocation before the first write), has or had its run.
 */
const unstarted = { state: 'pending_approval', transitionSeq: 0 } as const;
export const isUnstarted = (row: Pick<PartnerRow, 'state' | 'transition_seq'>): boolean =>
  row.state === unstarted.state && row.transition_seq === unstarted.transitionSeq;

/** A start that hangs (Temporal unreachable) is cut short; the resume loop tries again. */
const startDeadlineMs = 5000;

/**
 * Starts the partner's workflow from its submitted row; call it only for an unstarted row
 * (`isUnstarted`). Idempotent: a running workflow of the partner is kept (USE_EXISTING), and a
 * closed one is never followed by a new run unless it ended without completing
 * (ALLOW_DUPLICATE_FAILED_ONLY: a run that failed or was terminated before its first write left
 * the row unstarted; one that completed — rejected, expired, offboarded, revoked — never gets a
 * successor). "Already started" counts as started.
 */
export async function startLifecycle(client: Client, taskQueue: string, row: PartnerRow): Promise<void> {
  const submission: Submission = {
    environment: row.environment,
    sponsor: row.sponsor,
    requestedBy: row.requested_by,
    scopes: JSON.parse(row.scopes) as string[],
    accessUntil: row.access_until,
    submittedAt: row.created_at,
  };
  try {
    await client.withDeadline(Date.now() + startDeadlineMs, () =>
      client.workflow.start<typeof partnerLifecycle>('partnerLifecycle', {
        workflowId: workflowIdFor(row.id),
        taskQueue,
        args: [{ partnerId: row.id, submission }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        typedSearchAttributes: [
          { key: partnerEnvironmentKey, value: row.environment },
          { key: partnerSponsorKey, value: row.sponsor },
        ],
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    throw err;
  }
}

/**
 * Starts every unstarted submission older than `olderThanMs` (younger ones may still be starting
 * in the request that committed them). The API runs this every few seconds: a submission whose
 * start failed, timed out or was cut short by a crash is never left behind. Stops at the first
 * failure (Temporal is most likely unreachable; the next pass tries again) so passes stay short.
 */
export async function resumeUnstartedSubmissions(deps: { db: Db; client: Client; taskQueue: string; logger: Logger }, olderThanMs = 15_000): Promise<number> {
  const cutoff = new Date(Date.now() - olderThanMs).toISOString();
  const rows = await deps.db
    .selectFrom('partners')
    .selectAll()
    .where('state', '=', unstarted.state)
    .where('transition_seq', '=', unstarted.transitionSeq)
    .where('created_at', '<', cutoff)
    .orderBy('created_at')
    .limit(100)
    .execute();
  for (const row of rows) {
    await startLifecycle(deps.client, deps.taskQueue, row);
    deps.logger.info({ partnerId: row.id }, 'resumed a submission whose workflow start did not complete');
  }
  return rows.length;
}
