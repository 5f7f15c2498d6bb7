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

/** Who changes operators outside the API: the operator CLI, or the start-up that creates the first admin. */
const CLI = 'system:operator-cli';

/**
 * Creates an operator and returns its bearer token: the only time the token exists in clear.
 * Audited (by default as the operator CLI); `expiresAt` ends the token's validity.
 */
export async function createOperator(
  db: Db,
  name: string,
  roles: Role[],
  token = generateOpaqueToken('pat'),
  opts: { actor?: string; expiresAt?: string | null; reason?: string } = {},
): Promise<string> {
  if (!NAME.test(name)) throw new OperatorError('name must be lower-case letters, digits, ".", "_" or "-" (max 64)');
  if (!token.startsWith('pat_')) throw new OperatorError('operator tokens start with pat_');
  const created = await insertOperator(
    db,
    { name, roles, tokenHash: hashToken(token), at: new Date().toISOString(), expiresAt: opts.expiresAt ?? null },
    { actor: opts.actor ?? CLI, reason: opts.reason ?? null },
  );
  if (!created) throw new OperatorError(`operator ${name} already exists (names are never reused: the audit trail names one identity by each)`);
  return token;
}

export async function revokeOperator(db: Db, name: string): Promise<void> {
  const outcome = await revokeOperatorRecord(db, name, new Date().toISOString(), { actor: CLI, reason: 'revoked with the operator CLI' });
  if (outcome === 'missing') throw new OperatorError(`no active operator named ${name}`);
  if (outcome === 'lastAdmin') throw new OperatorError(`${name} is the last active admin: create another admin first`);
  if (typeof outcome === 'object') {
    throw new OperatorError(`${name} sponsors partners whose lifecycle has not ended (${outcome.sponsors.join(', ')}): revoke through the API with a successor, or hand them over first`);
  }
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
  const created = await insertOperator(db, { name: 'admin', roles: ['admin'], tokenHash: hashToken(token), at: new Date().toISOString() }, { actor: 'system:bootstrap', reason: 'the first admin of an empty deployment' });
  return created ? token : undefined;
}
