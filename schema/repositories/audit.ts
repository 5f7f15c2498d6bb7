import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditEventRow, Database } from '../database.js';
import { lockForUpdate } from '../dialect.js';

export interface AuditEventInput {
  /** idempotency key of the step: an event with the same key is written once */
  eventKey: string;
  at: string;
  /** a human or system actor: `operator:<name>`, `partner:<id>`, `system:<component>` */
  actor: string;
  action: string;
  partnerId: string | null;
  before?: string | null;
  after?: string | null;
  reason?: string | null;
  details?: Record<string, unknown> | null;
}

const GENESIS = '0'.repeat(64);

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function eventHash(prevHash: string, row: Omit<AuditEventRow, 'hash' | 'prev_hash'>): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical(row)).digest('hex');
}

/**
 * Appends one hash-chained audit event inside the caller's transaction. The chain head row is
 * locked before anything else is read, so concurrent appenders (in other processes, on other
 * machines) queue one behind the other instead of forking the chain: on SQLite the transaction
 * already holds the database's write lock (`begin immediate`), on Postgres `select … for update`
 * holds the head row until commit, and the next appender then reads the head and the events
 * committed before it. Returns false when the event was already written.
 */
export async function appendAudit(trx: Transaction<Database>, event: AuditEventInput): Promise<boolean> {
  const head = await lockForUpdate(trx, trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1)).executeTakeFirstOrThrow();
  const exists = await trx.selectFrom('audit_events').select('seq').where('event_key', '=', event.eventKey).executeTakeFirst();
  if (exists) return false;
  const row = {
    seq: head.seq + 1,
    event_key: event.eventKey,
    at: event.at,
    actor: event.actor,
    action: event.action,
    partner_id: event.partnerId,
    before: event.before ?? null,
    after: event.after ?? null,
    reason: event.reason ?? null,
    details: event.details ? JSON.stringify(event.details) : null,
  };
  const hash = eventHash(head.hash, row);
  await trx.insertInto('audit_events').values({ ...row, prev_hash: head.hash, hash }).execute();
  await trx.updateTable('audit_head').set({ seq: row.seq, hash }).where('id', '=', 1).execute();
  return true;
}

/** Appends one event in a transaction of its own. */
export function appendAuditEvent(db: Kysely<Database>, event: AuditEventInput): Promise<boolean> {
  return db.transaction().execute((trx) => appendAudit(trx, event));
}

/** A page of events after `afterSeq`, oldest first (the NDJSON export). */
export function auditEventsAfter(db: Kysely<Database>, q: { afterSeq: number; partnerId?: string; limit: number }): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_events').selectAll().where('seq', '>', q.afterSeq).orderBy('seq').limit(q.limit);
  if (q.partnerId) query = query.where('partner_id', '=', q.partnerId);
  return query.execute();
}

/** Every event of one partner, oldest first. */
export function auditEventsOf(db: Kysely<Database>, partnerId: string): Promise<AuditEventRow[]> {
  return db.selectFrom('audit_events').selectAll().where('partner_id', '=', partnerId).orderBy('seq').execute();
}

/** A partner's events with the approval stage of each decision (what the partner's own timeline is built from). */
export function auditEventsWithStagesOf(db: Kysely<Database>, partnerId: string): Promise<(AuditEventRow & { decision_stage: string | null })[]> {
  return db
    .selectFrom('audit_events')
    .leftJoin('decisions', (join) => join.onRef('decisions.step_key', '=', 'audit_events.event_key').on('decisions.partner_id', '=', partnerId))
    .selectAll('audit_events')
    .select('decisions.stage as decision_stage')
    .where('audit_events.partner_id', '=', partnerId)
    .orderBy('audit_events.seq')
    .execute();
}

/** The first event of this action for the partner, if any. */
export function firstAuditEvent(db: Kysely<Database>, partnerId: string, action: string): Promise<Pick<AuditEventRow, 'actor' | 'reason' | 'at'> | undefined> {
  return db.selectFrom('audit_events').select(['actor', 'reason', 'at']).where('partner_id', '=', partnerId).where('action', '=', action).orderBy('seq').executeTakeFirst();
}

/** The chain head: the last event's seq and hash (0 and the genesis hash on an empty chain). */
export function auditHead(db: Kysely<Database>): Promise<{ seq: number; hash: string }> {
  return db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
}

/** The stored hashes of these events (those that exist), read in pages. */
export async function auditEventHashes(db: Kysely<Database>, seqs: number[]): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (let i = 0; i < seqs.length; i += 500) {
    const rows = await db.selectFrom('audit_events').select(['seq', 'hash']).where('seq', 'in', seqs.slice(i, i + 500)).execute();
    for (const r of rows) found.set(Number(r.seq), r.hash);
  }
  return found;
}

/** The stored hash of one event, if it exists. */
export async function auditEventHash(db: Kysely<Database>, seq: number): Promise<string | undefined> {
  return (await db.selectFrom('audit_events').select('hash').where('seq', '=', seq).executeTakeFirst())?.hash;
}

export interface ChainVerification {
  ok: boolean;
  events: number;
  headSeq: number;
  /** first sequence number where the chain breaks */
  brokenAt?: number;
  problem?: string;
}

/**
 * Recomputes the chain up to the head: every hash, every link, and the head itself.
 *
 * It checks one consistent snapshot without holding a lock on writers. Every append writes its
 * event and moves `audit_head` in one transaction, and events are never changed afterwards, so
 * the head read first names a committed chain: events 1..head.seq all exist from that moment on,
 * and the last of them must hash to head.hash. Events appended while the pages are read have
 * seq > head.seq and belong to a later snapshot; they are not read. (Reading the events first and
 * the head last, as before, compared two different moments and reported a healthy chain as broken
 * whenever an event was committed in between.) The head and the highest seq are read in one
 * statement, which SQLite answers from one snapshot: an event beyond the head there was not
 * written by `appendAudit`.
 */
export async function verifyAuditChain(db: Kysely<Database>): Promise<ChainVerification> {
  const head = await db
    .selectFrom('audit_head')
    .select((eb) => ['seq', 'hash', eb.selectFrom('audit_events').select((e) => e.fn.max('seq').as('last')).as('last')])
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  const headSeq = head.seq;
  const broken = (events: number, brokenAt: number, problem: string): ChainVerification => ({ ok: false, events, headSeq, brokenAt, problem });
  if (head.last !== null && head.last > headSeq) return broken(0, headSeq + 1, 'event beyond the head');

  let prev = GENESIS;
  let expectedSeq = 1;
  const pageSize = 1000;
  while (expectedSeq <= headSeq) {
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>=', expectedSeq)
      .where('seq', '<=', headSeq)
      .orderBy('seq')
      .limit(pageSize)
      .execute();
    if (rows.length === 0) return broken(expectedSeq - 1, expectedSeq, 'missing event');
    for (const { hash, prev_hash, ...rest } of rows) {
      const count = expectedSeq - 1;
      if (rest.seq !== expectedSeq) return broken(count, expectedSeq, 'missing event');
      if (prev_hash !== prev) return broken(count, rest.seq, 'broken link');
      if (eventHash(prev, rest) !== hash) return broken(count, rest.seq, 'hash mismatch');
      prev = hash;
      expectedSeq += 1;
    }
  }
  if (head.hash !== prev) return broken(headSeq, headSeq, 'head does not match the last event');
  return { ok: true, events: headSeq, headSeq };
}
