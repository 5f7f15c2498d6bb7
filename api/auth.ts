import type { Context, MiddlewareHandler } from 'hono';
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
  | { kind: 'request_token'; tokenHash: string; partnerId: string }
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
  return authenticator(db, budget).middleware;
}

/**
 * The one authentication of the API: `principalOf` answers who calls (or throws the 401 / 429),
 * `middleware` puts it on the request. One per app, so every path that authenticates (the /v1
 * middleware, introspection's lean path) spends one budget and shares one gateway-token cache.
 */
export function authenticator(db: Db, budget: CredentialFailureBudget) {
  const failures = failureBudget(budget.limiter, 'auth-failures', budget.failuresPerMinute);
  const gateways = new GatewayTokenVerdicts();
  const resolve = async (token: string): Promise<Principal | undefined> => {
    if (!token.startsWith('pat_')) return principalFor(db, token);
    const tokenHash = hashToken(token);
    return gateways.keep(tokenHash, await operatorFor(db, tokenHash));
  };
  const principalOf = async (c: Context<AppEnv>): Promise<Principal> => {
    const authorization = c.req.header('authorization');
    const token = bearer(authorization) ?? (c.req.header('x-api-key')?.trim() || undefined);
    if (authorization === undefined && token === undefined) return { kind: 'anonymous' };
    const source = sourceOf(c);
    // The budget is asked first, cached verdict or not: a source over it learns nothing of any
    // token. A cached gateway token cannot fail, so it needs only that question, not a slot among
    // the source's checks that might (measured: the check's machinery was most of a cached
    // token's cost).
    const cached = token?.startsWith('pat_') ? gateways.get(hashToken(token)) : undefined;
    if (cached) {
      const decision = await failures.peek(source);
      if (!decision.ok) throw tooManyFailures(decision.retryAfterSeconds);
      return cached;
    }
    const checked = await failures.check(source, async () => (token === undefined ? undefined : resolve(token)), (p) => p === undefined);
    if ('refused' in checked) throw tooManyFailures(checked.refused.retryAfterSeconds);
    if (!checked.result) throw problems.unauthorized(token === undefined ? 'malformed Authorization header' : undefined);
    return checked.result;
  };
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set('principal', await principalOf(c));
    return next();
  };
  return { principalOf, middleware };
}

export type Authenticator = ReturnType<typeof authenticator>;

/** The principal a credential proves, or undefined for anything that proves nothing. */
export async function principalFor(db: Db, token: string): Promise<Principal | undefined> {
  if (token.startsWith('pat_')) return operatorFor(db, hashToken(token));
  if (token.startsWith('prt_')) {
    // A token that opens no partner is refused here, whatever the path: the answer depends on the
    // token alone, so it cannot tell which partner ids exist. Which partner it may see is the
    // route's question (canSee: another partner's id is a 404).
    if (!isOpaqueToken('prt', token)) return undefined;
    return requestTokenFor(db, hashToken(token));
  }
  if (token.startsWith('pak_')) {
    // The same lookup and rule as introspection: a key the gateway refuses opens nothing here.
    const owner = await liveKeyOwner(db, token);
    return owner && { kind: 'partner_key', partnerId: owner.partnerId, keyId: owner.keyId };
  }
  return undefined;
}

/** The active operator a token hash proves (a bearer token here, a console session's credential in api/pages/session.ts). */
export async function operatorFor(db: Db, tokenHash: string): Promise<Extract<Principal, { kind: 'operator' }> | undefined> {
  const operator = await activeOperatorByTokenHash(db, tokenHash);
  if (!operator || !hashesEqual(operator.tokenHash, tokenHash)) return undefined;
  return { kind: 'operator', name: operator.name, roles: operator.roles };
}

/** The partner a request token's hash still opens (a bearer token here, a portal session's credential). */
export async function requestTokenFor(db: Db, tokenHash: string): Promise<Extract<Principal, { kind: 'request_token' }> | undefined> {
  const held = await requestTokenHolder(db, tokenHash);
  if (!held || !hashesEqual(held.tokenHash, tokenHash)) return undefined;
  return { kind: 'request_token', tokenHash, partnerId: held.partnerId };
}

/**
 * How long the API reuses a gateway token's verdict without asking the database. A gateway asks on
 * every partner request it cannot answer itself (introspection, `auth_request`, the edge's misses),
 * so its own token is the most-checked credential there is; looking it up each time was a third
 * of introspection's database work. The price: a gateway token revoked, rotated or expired is
 * refused within this bound rather than at once (docs/SECURITY.md).
 */
export const GATEWAY_TOKEN_VERDICT_MS = 1000;

/**
 * Verdicts of tokens whose operator holds the gateway role and no other, by token hash, for
 * GATEWAY_TOKEN_VERDICT_MS from the lookup. Only these: a human's or an admin's token is looked up
 * on every request, so revoking it bites at once. Only positive verdicts: every failure is looked
 * up and spent against the source's budget.
 */
class GatewayTokenVerdicts {
  private readonly verdicts = new Map<string, { principal: Principal; until: number }>();

  constructor(private readonly maxEntries = 1000) {}

  // the monotonic clock: a wall clock stepped back (NTP, a resumed VM) would stretch every verdict by the step
  get(tokenHash: string, now = performance.now()): Principal | undefined {
    const kept = this.verdicts.get(tokenHash);
    if (kept && kept.until > now) return kept.principal;
    if (kept) this.verdicts.delete(tokenHash);
    return undefined;
  }

  keep(tokenHash: string, principal: Principal | undefined, now = performance.now()): Principal | undefined {
    if (principal?.kind !== 'operator' || !principal.roles.every((role) => role === 'gateway')) return principal;
    // a handful of gateways in practice; the bound only keeps memory flat whatever happens
    if (this.verdicts.size >= this.maxEntries) this.verdicts.clear();
    this.verdicts.set(tokenHash, { principal, until: now + GATEWAY_TOKEN_VERDICT_MS });
    return principal;
  }
}

/** Operator routes: the caller must hold one of `roles`. */
export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    assertRole(c.get('principal'), roles);
    return next();
  };
}

/** The 401 / 403 of requireRole, for a path that checks the caller itself (introspection's lean path). */
export function assertRole(principal: Principal, roles: readonly Role[]): asserts principal is Extract<Principal, { kind: 'operator' }> {
  if (principal.kind === 'anonymous') throw problems.unauthorized();
  if (principal.kind !== 'operator') throw problems.forbidden('this route is for operators');
  if (!principal.roles.some((role) => roles.includes(role))) throw problems.forbidden(`needs one of the roles: ${roles.join(', ')}`);
}

export const operatorOf = (principal: Principal) => (principal.kind === 'operator' ? principal : undefined);
