import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { keyBearingStates, recertifiableStates, terminalStates, type Environment, type PartnerState } from '../../domain/partner-states.js';
import type { Database, NewPartner, PartnerRow } from '../database.js';
import type { Db } from '../db.js';
import { claimIdempotencyKey, type IdempotencyClaim } from './idempotency.js';

/**
 * The partners read model: the rows the API answers from and the workflow's transitions write
 * (schema/repositories/lifecycle.ts). Every query on `partners` outside the lifecycle's writes is
 * here; the rules these queries apply in SQL come from domain/access-rules.ts, and each says which.
 */

export function findPartner(db: Db, partnerId: string): Promise<PartnerRow | undefined> {
  return db.selectFrom('partners').selectAll().where('id', '=', partnerId).executeTakeFirst();
}

/**
 * The partner a request token opens and the stored hash (request-token authentication compares it
 * in constant time; the portal's pages then know the partner without asking again).
 */
export async function requestTokenHolder(db: Db, tokenHash: string): Promise<{ partnerId: string; tokenHash: string } | undefined> {
  const row = await db.selectFrom('partners').select(['id', 'request_token_hash']).where('request_token_hash', '=', tokenHash).executeTakeFirst();
  return row?.request_token_hash ? { partnerId: row.id, tokenHash: row.request_token_hash } : undefined;
}

/**
 * Records a new submission: the partner row and, when the caller sent an Idempotency-Key, its
 * claim, in one transaction. False when a concurrent request with the same key committed first
 * (nothing is written then).
 */
export function recordSubmission(db: Db, row: NewPartner, idempotency?: IdempotencyClaim): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (idempotency && !(await claimIdempotencyKey(trx, idempotency))) return false;
    await trx.insertInto('partners').values(row).execute();
    return true;
  });
}

/**
 * A submission the workflow has never touched: the only kind that may be (re)started. Anything
 * the workflow has written (transition_seq > 0), or that ended in the database (an emergency
 * revocation before the first write), has or had its run.
 */
const unstarted = { state: 'pending_approval', transitionSeq: 0 } as const;
export const isUnstarted = (row: Pick<PartnerRow, 'state' | 'transition_seq'>): boolean =>
  row.state === unstarted.state && row.transition_seq === unstarted.transitionSeq;

/** Unstarted submissions committed before `cutoff`, oldest first. */
export function unstartedSubmissions(db: Db, cutoff: string, limit = 100): Promise<PartnerRow[]> {
  return db
    .selectFrom('partners')
    .selectAll()
    .where('state', '=', unstarted.state)
    .where('transition_seq', '=', unstarted.transitionSeq)
    .where('created_at', '<', cutoff)
    .orderBy('created_at')
    .limit(limit)
    .execute();
}

/** SQL condition: the partner's scopes (a JSON array) contain exactly this scope. */
export const holdsScope = (scope: string) => sql<boolean>`scopes like ${`%"${scope.replace(/[\\%_]/g, (ch) => `\\${ch}`)}"%`} escape '\\'`;

/**
 * `maySee` (domain/access-rules.ts) for an operator without a see-all role, in SQL so pages stay
 * full: the partners it sponsors, and escalated requests any approver may take
 * (`isEscalatedToApprovers`).
 */
const visibleToApprover = (me: string) => (eb: ExpressionBuilder<Database, 'partners'>) =>
  eb.or([eb('sponsor', '=', me), eb.and([eb('state', '=', 'pending_approval'), eb('stage', '=', 'sponsor'), eb('escalated', '=', 1)])]);

export interface PartnerListing {
  /** set for an operator who sees only its own (not seeAllRoles) */
  onlyVisibleTo?: string;
  state?: PartnerState;
  sponsor?: string;
  environment?: Environment;
  scope?: string;
  cursor?: string;
  limit: number;
}

/** One page of partners by id; `nextCursor` when there is more. */
export async function listPartners(db: Db, q: PartnerListing): Promise<{ rows: PartnerRow[]; nextCursor: string | null }> {
  let query = db.selectFrom('partners').selectAll().orderBy('id').limit(q.limit + 1);
  if (q.onlyVisibleTo !== undefined) query = query.where(visibleToApprover(q.onlyVisibleTo));
  if (q.state) query = query.where('state', '=', q.state);
  if (q.sponsor) query = query.where('sponsor', '=', q.sponsor);
  if (q.environment) query = query.where('environment', '=', q.environment);
  if (q.scope) query = query.where(holdsScope(q.scope));
  if (q.cursor) query = query.where('id', '>', q.cursor);
  const rows = await query.execute();
  const page = rows.slice(0, q.limit);
  return { rows: page, nextCursor: rows.length > q.limit ? page.at(-1)!.id : null };
}

export interface InboxOwner {
  /** `operator:<name>` */
  label: string;
  name: string;
  isApprover: boolean;
  isSecurity: boolean;
}

/**
 * Candidates for an operator's inbox: `isWaitingOn` (domain/access-rules.ts) in SQL, so the limit
 * counts waiting items only — the stage an operator may decide (`mayDecideStage`), the
 * recertifications it owes (`mayRecertify`), the extensions it decides (`mayDecideExtension`);
 * never a request it filed. Callers check each row against the rule again; `approvedByMe` tells
 * which of them this operator approved at an earlier stage (the row does not say who approved, the
 * decisions do).
 */
export async function inboxCandidates(db: Db, me: InboxOwner, limit = 500): Promise<{ rows: PartnerRow[]; approvedByMe: Set<string> }> {
  const rows = await db
    .selectFrom('partners')
    .selectAll()
    .where((eb) => {
      const waiting: Expression<SqlBool>[] = [];
      if (me.isApprover) {
        waiting.push(
          eb.and([eb('state', '=', 'pending_approval'), eb('stage', '=', 'sponsor'), eb.or([eb('sponsor', '=', me.name), eb('escalated', '=', 1)])]),
          eb.and([eb('sponsor', '=', me.name), eb('state', 'in', recertifiableStates)]),
          eb.and([eb('sponsor', '=', me.name), eb('pending_extension', 'is not', null), eb('state', 'in', keyBearingStates)]),
        );
      }
      if (me.isSecurity) {
        waiting.push(
          eb.and([eb('state', '=', 'pending_approval'), eb('stage', '=', 'security')]),
          // an extension the sponsor approved that security decides next (the workflow writes the stage in the JSON)
          eb.and([eb('pending_extension', 'like', '%"stage":"security"%'), eb('state', 'in', keyBearingStates)]),
        );
      }
      return eb.or(waiting);
    })
    .where('requested_by', '!=', me.label)
    .orderBy('next_deadline_at')
    .limit(limit)
    .execute();
  const decided = await db.selectFrom('decisions').select('partner_id').where('actor', '=', me.label).where('kind', '=', 'approval').execute();
  return { rows, approvedByMe: new Set(decided.map((d) => d.partner_id)) };
}

/**
 * The reviews a security operator may answer in the sponsor's place, before the drift rule: due or
 * overdue (`recertifiableStates`), not held by security's own suspension (it resumes first), neither
 * sponsored nor filed by this operator (`mayRecertify` and `mayDecideAsRequester`). Whether a grant
 * lacks the security stage today's policy requires is the caller's question (api/inbox.ts), as the
 * workflow's `checkRecertificationDrift` asks it.
 */
export function reviewsOpenToSecurity(db: Db, me: Pick<InboxOwner, 'label' | 'name'>, page: { limit: number; offset: number }): Promise<PartnerRow[]> {
  return db
    .selectFrom('partners')
    .selectAll()
    .where('state', 'in', recertifiableStates)
    .where('suspended_by', 'is', null)
    .where('sponsor', '!=', me.name)
    .where('requested_by', '!=', me.label)
    .orderBy('next_deadline_at')
    .orderBy('id') // a total order: the pages neither skip nor repeat a row
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export interface ContainmentTargets {
  scope?: string;
  environment?: Environment;
  partnerIds?: string[];
}

/** Every partner that has not ended and matches all the given filters (bulk containment). */
export function liveHolders(db: Db, t: ContainmentTargets): Promise<Pick<PartnerRow, 'id' | 'name' | 'state' | 'scopes'>[]> {
  let query = db.selectFrom('partners').select(['id', 'name', 'state', 'scopes']).where('state', 'not in', terminalStates).orderBy('id');
  if (t.scope) query = query.where(holdsScope(t.scope));
  if (t.environment) query = query.where('environment', '=', t.environment);
  if (t.partnerIds) query = query.where('id', 'in', t.partnerIds);
  return query.execute();
}
