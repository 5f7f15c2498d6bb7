import type { Db } from '../schema/db.js';
import { generateOpaqueToken, hashToken } from '../domain/api-key.js';
import { roles as allRoles, type Role } from '../workflows/messages.js';

export class OperatorError extends Error {}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function parseRoles(list: string): Role[] {
  const wanted = list.split(',').map((r) => r.trim()).filter(Boolean);
  const unknown = wanted.filter((r) => !(allRoles as readonly string[]).includes(r));
  if (wanted.length === 0 || unknown.length > 0) {
    throw new OperatorError(`roles must be a comma-separated list of ${allRoles.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  }
  return [...new Set(wanted)] as Role[];
}

/** Creates an operator and returns its bearer token: the only time the token exists in clear. */
export async function createOperator(db: Db, name: string, roles: Role[], token = generateOpaqueToken('pat')): Promise<string> {
  if (!NAME.test(name)) throw new OperatorError('name must be lower-case letters, digits, ".", "_" or "-" (max 64)');
  if (!token.startsWith('pat_')) throw new OperatorError('operator tokens start with pat_');
  const existing = await db.selectFrom('operators').select('name').where('name', '=', name).executeTakeFirst();
  if (existing) throw new OperatorError(`operator ${name} already exists`);
  await db
    .insertInto('operators')
    .values({ name, roles: JSON.stringify(roles), token_hash: hashToken(token), created_at: new Date().toISOString(), revoked_at: null })
    .execute();
  return token;
}

export async function listOperators(db: Db) {
  const rows = await db.selectFrom('operators').select(['name', 'roles', 'created_at', 'revoked_at']).orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, roles: JSON.parse(r.roles) as Role[], createdAt: r.created_at, revokedAt: r.revoked_at }));
}

export async function revokeOperator(db: Db, name: string): Promise<void> {
  const result = await db
    .updateTable('operators')
    .set({ revoked_at: new Date().toISOString() })
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) throw new OperatorError(`no active operator named ${name}`);
}

/**
 * On an empty operators table, creates the first admin: from ADMIN_TOKEN when given, otherwise a
 * fresh token that is returned (and printed once by the caller).
 */
export async function ensureFirstAdmin(db: Db, adminToken: string | undefined): Promise<string | undefined> {
  const any = await db.selectFrom('operators').select('name').limit(1).executeTakeFirst();
  if (any) return undefined;
  return createOperator(db, 'admin', ['admin'], adminToken);
}
