import type { Transaction } from 'kysely';
import type { Database } from '../database.js';
import type { Db } from '../db.js';

/**
 * The outbox of signals for workflows (`pending_signals`): a signal is written in the same
 * transaction as the change it announces, deleted once Temporal accepts it, and re-sent by the
 * API's loop until then (api/commands.ts).
 */

export interface OutboxSignal {
  workflowId: string;
  signal: string;
  args: unknown[];
  at: string;
}

export async function enqueueSignal(trx: Transaction<Database>, s: OutboxSignal): Promise<number> {
  const row = await trx
    .insertInto('pending_signals')
    .values({ workflow_id: s.workflowId, signal: s.signal, args: JSON.stringify(s.args), created_at: s.at, attempts: 0, last_error: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Signals queued before `settledBefore`, oldest first. */
export async function queuedSignals(db: Db, settledBefore: string, limit = 100): Promise<(OutboxSignal & { id: number })[]> {
  const rows = await db.selectFrom('pending_signals').selectAll().where('created_at', '<=', settledBefore).orderBy('id').limit(limit).execute();
  return rows.map((r) => ({ id: r.id, workflowId: r.workflow_id, signal: r.signal, args: JSON.parse(r.args) as unknown[], at: r.created_at }));
}

export async function dequeueSignal(db: Db, id: number): Promise<void> {
  await db.deleteFrom('pending_signals').where('id', '=', id).execute();
}

export async function signalAttemptFailed(db: Db, id: number, error: string): Promise<void> {
  await db
    .updateTable('pending_signals')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 500) }))
    .where('id', '=', id)
    .execute();
}

/** How many signals wait in the outbox (the API's metrics read it at each scrape). */
export async function pendingSignalCount(db: Db): Promise<number> {
  const row = await db.selectFrom('pending_signals').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  // Postgres answers count(*) as a bigint string
  return Number(row.n);
}
