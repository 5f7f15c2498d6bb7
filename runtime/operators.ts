import type { Db } from '../schema/db.js';
import { generateOpaqueToken, hashToken } from '../domain/api-key.js';
import { roles as allRoles, type Role } from '../workflows/messages.js';
import { hasOperators, insertOperator, revokeOperatorRecord } from '../schema/repositories/operators.js';

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
  const created = await insertOperator(db, { name, roles, tokenHash: hashToken(token), at: new Date().toISOString() });
  if (!created) throw new OperatorError(`operator ${name} already exists`);
  return token;
}

export async function revokeOperator(db: Db, name: string): Promise<void> {
  if (!(await revokeOperatorRecord(db, name, new Date().toISOString()))) throw new OperatorError(`no active operator named ${name}`);
}

/**
 * On an empty operators table, creates the first admin: from ADMIN_TOKEN when given, otherwise a
 * fresh token that is returned (and printed once by the caller).
 */
export async function ensureFirstAdmin(db: Db, adminToken: string | undefined): Promise<string | undefined> {
  if (await hasOperators(db)) return undefined;
  const token = adminToken ?? generateOpaqueToken('pat');
  if (!token.startsWith('pat_')) throw new OperatorError('operator tokens start with pat_');
  // Several API processes may start at once on one database: one of them creates the admin, the
  // others find the name taken and go on (none of them fails its start over it).
  return (await insertOperator(db, { name: 'admin', roles: ['admin'], tokenHash: hashToken(token), at: new Date().toISOString() })) ? token : undefined;
}
