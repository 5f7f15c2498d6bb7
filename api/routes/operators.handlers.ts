import { generateOpaqueToken, hashToken } from '../../domain/api-key.js';
import { operatorLabel } from '../../domain/access-rules.js';
import {
  findOperator,
  insertOperator,
  isLastActiveAdmin,
  listOperators,
  revokeOperatorRecord,
  rotateOperatorToken,
  sponsoredPartnerIds,
} from '../../schema/repositories/operators.js';
import { handOverSponsoredPartners } from '../commands.js';
import type { Principal } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { Problem, problems } from '../problem.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './operators.routes.js';

/** Tokens made through the API expire; 90 days unless the admin says otherwise (at most two years). */
const DEFAULT_TOKEN_DAYS = 90;
const expiry = (days: number | undefined, now: number) => new Date(now + (days ?? DEFAULT_TOKEN_DAYS) * 86_400_000).toISOString();

const actorOf = (principal: Principal) => {
  if (principal.kind !== 'operator') throw new Error('unreachable: requireRole admits operators only');
  return operatorLabel(principal);
};

export function createOperatorHandlers(deps: AppDeps) {
  const create: AppRouteHandler<typeof routes.create> = async (c) => {
    const body = c.req.valid('json');
    const now = Date.now();
    const token = generateOpaqueToken('pat');
    const expiresAt = expiry(body.expiresInDays, now);
    const roles = [...new Set(body.roles)];
    const created = await insertOperator(
      deps.db,
      { name: body.name, roles, tokenHash: hashToken(token), at: new Date(now).toISOString(), expiresAt },
      { actor: actorOf(c.get('principal')), reason: body.reason },
    );
    if (!created) throw problems.conflict(`operator ${body.name} exists or existed (names are never reused: the audit trail names one identity by each)`);
    c.get('log').info({ operator: body.name, roles }, 'operator created');
    return c.json({ name: body.name, token, expiresAt }, 201);
  };

  const list: AppRouteHandler<typeof routes.list> = async (c) => c.json({ items: await listOperators(deps.db) }, 200);

  const rotate: AppRouteHandler<typeof routes.rotate> = async (c) => {
    const { name } = c.req.valid('param');
    const body = c.req.valid('json');
    const now = Date.now();
    const token = generateOpaqueToken('pat');
    const expiresAt = expiry(body.expiresInDays, now);
    const rotated = await rotateOperatorToken(deps.db, name, { tokenHash: hashToken(token), at: new Date(now).toISOString(), expiresAt }, { actor: actorOf(c.get('principal')), reason: body.reason });
    if (!rotated) throw problems.notFound(`no active operator named ${name}`);
    c.get('log').info({ operator: name }, 'operator token rotated');
    return c.json({ name, token, expiresAt }, 200);
  };

  const revoke: AppRouteHandler<typeof routes.revoke> = async (c) => {
    const { name } = c.req.valid('param');
    const { reason, successor } = c.req.valid('json');
    const principal = c.get('principal');
    // A sponsor who leaves hands its partners to the named successor first (each hand-over audited);
    // without one, the revocation is refused while it sponsors any partner (below).
    if (successor !== undefined && (await findOperator(deps.db, name))?.revokedAt === null) {
      // what would refuse the revocation is asked before the hand-overs, which it could not undo
      if (await isLastActiveAdmin(deps.db, name)) throw problems.conflict(`${name} is the last active admin: create another admin first`);
      await handOverSponsoredPartners(deps, principal, name, successor, reason, await sponsoredPartnerIds(deps.db, name));
    }
    const outcome = await revokeOperatorRecord(deps.db, name, new Date().toISOString(), {
      actor: actorOf(principal),
      reason,
      ...(successor !== undefined ? { details: { successor } } : {}),
    });
    if (outcome === 'missing') throw problems.notFound(`no active operator named ${name}`);
    if (outcome === 'lastAdmin') throw problems.conflict(`${name} is the last active admin: create another admin first`);
    if (typeof outcome === 'object') {
      throw new Problem(409, 'Conflict', `${name} sponsors partners whose lifecycle has not ended: name a successor, or hand them over first`, { partners: outcome.sponsors });
    }
    c.get('log').warn({ operator: name }, 'operator revoked');
    return c.json((await findOperator(deps.db, name))!, 200);
  };

  return { create, list, rotate, revoke };
}
