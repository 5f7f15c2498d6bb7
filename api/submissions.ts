import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { PartnerRow } from '../schema/database.js';
import type { Db } from '../schema/db.js';
import { partnerEnvironmentKey, partnerSponsorKey } from '../runtime/search-attributes.js';
import { workflowIdFor, type Submission } from '../workflows/messages.js';
import type { partnerLifecycle } from '../workflows/partner-lifecycle.js';

/**
 * Starts the partner's workflow from its submitted row. Idempotent: the workflow id is the
 * partner's, and an existing run is kept (USE_EXISTING), so it is safe to call again.
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
  await client.workflow.start<typeof partnerLifecycle>('partnerLifecycle', {
    workflowId: workflowIdFor(row.id),
    taskQueue,
    args: [{ partnerId: row.id, submission }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    typedSearchAttributes: [
      { key: partnerEnvironmentKey, value: row.environment },
      { key: partnerSponsorKey, value: row.sponsor },
    ],
  });
}

/**
 * A submission whose row was committed but whose API process died before starting the workflow
 * is resumed here (the API runs this every few seconds): nothing committed is ever left behind.
 * Rows the workflow has touched (transition_seq > 0) are running already.
 */
export async function resumeUnstartedSubmissions(deps: { db: Db; client: Client; taskQueue: string; logger: Logger }, olderThanMs = 15_000): Promise<number> {
  const cutoff = new Date(Date.now() - olderThanMs).toISOString();
  const rows = await deps.db
    .selectFrom('partners')
    .selectAll()
    .where('state', '=', 'pending_approval')
    .where('transition_seq', '=', 0)
    .where('created_at', '<', cutoff)
    .limit(100)
    .execute();
  for (const row of rows) {
    await startLifecycle(deps.client, deps.taskQueue, row);
    deps.logger.info({ partnerId: row.id }, 'resumed a submission whose workflow start was interrupted');
  }
  return rows.length;
}
