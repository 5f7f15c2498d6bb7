import type { Role } from '../../domain/partner-states.js';
import type { Db } from '../db.js';

/** Operators: people and machines with a bearer token (`pat_`), stored as its SHA-256 only. */

export interface OperatorRecord {
  name: string;
  roles: Role[];
  createdAt: string;
  revokedAt: string | null;
}

const rolesOf = (json: string) => JSON.parse(json) as Role[];

/** The active operator holding this token hash (the caller compares the hash in constant time). */
export async function activeOperatorByTokenHash(db: Db, tokenHash: string): Promise<{ name: string; roles: Role[]; tokenHash: string } | undefined> {
  const row = await db
    .selectFrom('operators')
    .select(['name', 'roles', 'token_hash'])
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
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

/** False when the name is taken (by an active or a revoked operator). */
export async function insertOperator(db: Db, op: { name: string; roles: Role[]; tokenHash: string; at: string }): Promise<boolean> {
  const inserted = await db
    .insertInto('operators')
    .values({ name: op.name, roles: JSON.stringify(op.roles), token_hash: op.tokenHash, created_at: op.at, revoked_at: null })
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function listOperators(db: Db): Promise<OperatorRecord[]> {
  const rows = await db.selectFrom('operators').select(['name', 'roles', 'created_at', 'revoked_at']).orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, roles: rolesOf(r.roles), createdAt: r.created_at, revokedAt: r.revoked_at }));
}

/** False when there is no active operator of that name. */
export async function revokeOperatorRecord(db: Db, name: string, at: string): Promise<boolean> {
  const result = await db.updateTable('operators').set({ revoked_at: at }).where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function hasOperators(db: Db): Promise<boolean> {
  return (await db.selectFrom('operators').select('name').limit(1).executeTakeFirst()) !== undefined;
}
