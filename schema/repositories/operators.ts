import { terminalStates, type Role } from '../../domain/partner-states.js';
import type { Db } from '../db.js';
import { lockForUpdate } from '../dialect.js';
import { appendAudit, type AuditEventInput } from './audit.js';

/**
 * Operators: people and machines with a bearer token (`pat_`), stored as its SHA-256 only. Every
 * change (creation, rotation, revocation) is written with its audit event in one transaction.
 */

export interface OperatorRecord {
  name: string;
  roles: Role[];
  createdAt: string;
  expiresAt: string | null;
  rotatedAt: string | null;
  revokedAt: string | null;
}

/** The audit event of an operator change: who did it and why (never the token). */
export type OperatorAudit = Pick<AuditEventInput, 'actor' | 'reason' | 'details'>;

const rolesOf = (json: string) => JSON.parse(json) as Role[];

/** The active, unexpired operator holding this token hash (the caller compares the hash in constant time). */
export async function activeOperatorByTokenHash(db: Db, tokenHash: string, now = new Date().toISOString()): Promise<{ name: string; roles: Role[]; tokenHash: string } | undefined> {
  const row = await db
    .selectFrom('operators')
    .select(['name', 'roles', 'token_hash'])
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirst();
  return row && { name: row.name, roles: rolesOf(row.roles), tokenHash: row.token_hash };
}

/** The roles of an active operator, or undefined when there is none of that name. */
export async function activeOperatorRoles(db: Db, name: string): Promise<Role[] | undefined> {
  const row = await db.selectFrom('operators').select('roles').where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
  return row && rolesOf(row.roles);
}

/** Roles by operator name, revoked operators included (what role someone acted in, then). */
export async function rolesByName(db: Db, names: string[]): Promise<Map<string, Role[]>> {
  if (names.length === 0) return new Map();
  const rows = await db.selectFrom('operators').select(['name', 'roles']).where('name', 'in', names).execute();
  return new Map(rows.map((o) => [o.name, rolesOf(o.roles)]));
}

/**
 * Creates an operator with its audit event; false when the name is taken (by an active or a
 * revoked operator: a name in the audit trail always means one identity).
 */
export function insertOperator(
  db: Db,
  op: { name: string; roles: Role[]; tokenHash: string; at: string; expiresAt?: string | null },
  audit: OperatorAudit,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('operators')
      .values({ name: op.name, roles: JSON.stringify(op.roles), token_hash: op.tokenHash, created_at: op.at, revoked_at: null, expires_at: op.expiresAt ?? null, rotated_at: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) !== 1) return false;
    await appendAudit(trx, {
      eventKey: `operator:${op.name}:created`,
      at: op.at,
      action: 'operator.created',
      partnerId: null,
      ...audit,
      details: { name: op.name, roles: op.roles, expiresAt: op.expiresAt ?? null, ...audit.details },
    });
    return true;
  });
}

const recordColumns = ['name', 'roles', 'created_at', 'expires_at', 'rotated_at', 'revoked_at'] as const;
const toRecord = (r: { name: string; roles: string; created_at: string; expires_at: string | null; rotated_at: string | null; revoked_at: string | null }): OperatorRecord => ({
  name: r.name,
  roles: rolesOf(r.roles),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  rotatedAt: r.rotated_at,
  revokedAt: r.revoked_at,
});

export async function listOperators(db: Db): Promise<OperatorRecord[]> {
  return (await db.selectFrom('operators').select(recordColumns).orderBy('name').execute()).map(toRecord);
}

export async function findOperator(db: Db, name: string): Promise<OperatorRecord | undefined> {
  const row = await db.selectFrom('operators').select(recordColumns).where('name', '=', name).executeTakeFirst();
  return row && toRecord(row);
}

/** Replaces an active operator's token (the old one stops at once); false when there is none of that name. */
export function rotateOperatorToken(db: Db, name: string, r: { tokenHash: string; at: string; expiresAt: string | null }, audit: OperatorAudit): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('operators')
      .set({ token_hash: r.tokenHash, rotated_at: r.at, expires_at: r.expiresAt })
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return false;
    await appendAudit(trx, { eventKey: `operator:${name}:rotated:${r.at}`, at: r.at, action: 'operator.token_rotated', partnerId: null, ...audit, details: { name, expiresAt: r.expiresAt, ...audit.details } });
    return true;
  });
}

/** The partners this operator sponsors whose lifecycle has not ended (pending requests included), by id. */
export async function sponsoredPartnerIds(db: Db, name: string): Promise<string[]> {
  const rows = await db.selectFrom('partners').select('id').where('sponsor', '=', name).where('state', 'not in', terminalStates).orderBy('id').execute();
  return rows.map((r) => r.id);
}

/**
 * Revokes an active operator; `lastAdmin` when it is the last active admin (nobody could manage
 * operators afterwards), `missing` when there is no active operator of that name, `sponsors` with
 * the partners it still sponsors (they would wait on a sponsor nobody can act as: hand them over
 * first).
 */
export function revokeOperatorRecord(
  db: Db,
  name: string,
  at: string,
  audit: OperatorAudit,
): Promise<'revoked' | 'missing' | 'lastAdmin' | { sponsors: string[] }> {
  return db.transaction().execute(async (trx) => {
    const target = await trx.selectFrom('operators').select('roles').where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
    if (!target) return 'missing' as const;
    // read in the revoking transaction: a partner submitted or handed to this operator meanwhile is seen
    const sponsored = await sponsoredPartnerIds(trx, name);
    if (sponsored.length > 0) return { sponsors: sponsored };
    if (rolesOf(target.roles).includes('admin')) {
      // locked (Postgres): two revocations at once cannot each see the other admin still there
      const admins = await lockForUpdate(trx, trx.selectFrom('operators').select(['name', 'roles']).where('revoked_at', 'is', null)).execute();
      if (admins.filter((a) => rolesOf(a.roles).includes('admin')).length <= 1) return 'lastAdmin' as const;
    }
    await trx.updateTable('operators').set({ revoked_at: at }).where('name', '=', name).execute();
    await appendAudit(trx, { eventKey: `operator:${name}:revoked`, at, action: 'operator.revoked', partnerId: null, ...audit, details: { name, ...audit.details } });
    return 'revoked' as const;
  });
}

/** Is this operator the last active admin? (A read-only look ahead; the revocation itself decides under its lock.) */
export async function isLastActiveAdmin(db: Db, name: string): Promise<boolean> {
  const admins = (await db.selectFrom('operators').select(['name', 'roles']).where('revoked_at', 'is', null).execute()).filter((a) => rolesOf(a.roles).includes('admin'));
  return admins.length === 1 && admins[0]!.name === name;
}

export async function hasOperators(db: Db): Promise<boolean> {
  return (await db.selectFrom('operators').select('name').limit(1).executeTakeFirst()) !== undefined;
}
