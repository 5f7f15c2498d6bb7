import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Db } from '../schema/db.js';
import { activeOperatorByTokenHash } from '../schema/repositories/operators.js';
import { requestTokenHolder } from '../schema/repositories/partners.js';
import { hashesEqual, hashToken, isOpaqueToken } from '../domain/api-key.js';
import { liveKeyOwner } from './introspection.js';
import type { Role } from '../workflows/messages.js';
import { Problem, problems } from './problem.js';
import { failureBudget, sourceOf, type RateLimiter } from './rate-limit.js';

/** Who is calling. Partners prove themselves with the request token (prt_) or their API key (pak_). */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'operator'; name: string; roles: Role[] }
  | { kind: 'request_token'; tokenHash: string }
  | { kind: 'partner_key'; partnerId: string; keyId: string };

export type AppEnv = { Variables: { principal: Principal; requestId: string; log: Logger; clientAddress: string } };

/** How many failed credentials one source may offer per minute before every credential it offers is refused unchecked. */
export interface CredentialFailureBudget {
  limiter: RateLimiter;
  failuresPerMinute: number;
}

function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S{1,200})$/i.exec(header.trim());
  return match?.[1];
}

const tooManyFailures = (retryAfterSeconds: number) =>
  new Problem(429, 'Too Many Requests', 'too many failed credentials from this address; retry later', {}, { 'Retry-After': String(retryAfterSeconds) });

/**
 * Resolves the caller from headers only (never the query string). An invalid credential is a 401
 * at once: a wrong token never silently downgrades to anonymous. Every 401 here spends the
 * source's failure budget; once it is spent, any credential from that source is a 429 before it
 * is looked at, so guessing stops (a right guess would otherwise still answer 200).
 */
export function authenticate(db: Db, budget: CredentialFailureBudget): MiddlewareHandler<AppEnv> {
  const failures = failureBudget(budget.limiter, 'auth-failures', budget.failuresPerMinute);
  return async (c, next) => {
    const authorization = c.req.header('authorization');
    const token = bearer(authorization) ?? (c.req.header('x-api-key')?.trim() || undefined);
    if (authorization === undefined && token === undefined) {
      c.set('principal', { kind: 'anonymous' });
      return next();
    }
    const checked = await failures.check(sourceOf(c), async () => (token === undefined ? undefined : principalFor(db, token)), (p) => p === undefined);
    if ('refused' in checked) throw tooManyFailures(checked.refused.retryAfterSeconds);
    if (!checked.result) throw problems.unauthorized(token === undefined ? 'malformed Authorization header' : undefined);
    c.set('principal', checked.result);
    return next();
  };
}

/** The principal a credential proves, or undefined for anything that proves nothing. */
export async function principalFor(db: Db, token: string): Promise<Principal | undefined> {
  if (token.startsWith('pat_')) {
    const tokenHash = hashToken(token);
    const operator = await activeOperatorByTokenHash(db, tokenHash);
    if (!operator || !hashesEqual(operator.tokenHash, tokenHash)) return undefined;
    return { kind: 'operator', name: operator.name, roles: operator.roles };
  }
  if (token.startsWith('prt_')) {
    // A token that opens no partner is refused here, whatever the path: the answer depends on the
    // token alone, so it cannot tell which partner ids exist. Which partner it may see is the
    // route's question (canSee: another partner's id is a 404).
    if (!isOpaqueToken('prt', token)) return undefined;
    const tokenHash = hashToken(token);
    const held = await requestTokenHolder(db, tokenHash);
    if (!held || !hashesEqual(held, tokenHash)) return undefined;
    return { kind: 'request_token', tokenHash };
  }
  if (token.startsWith('pak_')) {
    // The same lookup and rule as introspection: a key the gateway refuses opens nothing here.
    const owner = await liveKeyOwner(db, token);
    return owner && { kind: 'partner_key', partnerId: owner.partnerId, keyId: owner.keyId };
  }
  return undefined;
}

/** Operator routes: the caller must hold one of `roles`. */
export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (principal.kind === 'anonymous') throw problems.unauthorized();
    if (principal.kind !== 'operator') throw problems.forbidden('this route is for operators');
    if (!principal.roles.some((role) => roles.includes(role))) throw problems.forbidden(`needs one of the roles: ${roles.join(', ')}`);
    return next();
  };
}

export const operatorOf = (principal: Principal) => (principal.kind === 'operator' ? principal : undefined);
