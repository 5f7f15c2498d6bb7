import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Db } from '../schema/db.js';
import { hashApiKey, hashesEqual, hashToken, parseApiKey } from '../domain/api-key.js';
import type { Role } from '../workflows/messages.js';
import { problems } from './problem.js';

/** Who is calling. Partners prove themselves with the request token (prt_) or their API key (pak_). */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'operator'; name: string; roles: Role[] }
  | { kind: 'request_token'; tokenHash: string }
  | { kind: 'partner_key'; partnerId: string; keyId: string };

export type AppEnv = { Variables: { principal: Principal; requestId: string; log: Logger } };

function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S{1,200})$/i.exec(header.trim());
  return match?.[1];
}

/**
 * Resolves the caller from headers only (never the query string). An invalid credential is a 401
 * at once: a wrong token never silently downgrades to anonymous.
 */
export function authenticate(db: Db): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const apiKeyHeader = c.req.header('x-api-key');
    const token = bearer(c.req.header('authorization')) ?? apiKeyHeader?.trim();
    if (c.req.header('authorization') !== undefined && token === undefined && !apiKeyHeader) throw problems.unauthorized('malformed Authorization header');
    if (!token) {
      c.set('principal', { kind: 'anonymous' });
      return next();
    }
    if (token.startsWith('pat_')) {
      const tokenHash = hashToken(token);
      const operator = await db
        .selectFrom('operators')
        .select(['name', 'roles', 'token_hash'])
        .where('token_hash', '=', tokenHash)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (!operator || !hashesEqual(operator.token_hash, tokenHash)) throw problems.unauthorized();
      c.set('principal', { kind: 'operator', name: operator.name, roles: JSON.parse(operator.roles) as Role[] });
    } else if (token.startsWith('prt_')) {
      // Checked against the partner named in the path by the route that needs it.
      c.set('principal', { kind: 'request_token', tokenHash: hashToken(token) });
    } else if (token.startsWith('pak_')) {
      const parsed = parseApiKey(token);
      if (!parsed.ok) throw problems.unauthorized();
      const credential = await db
        .selectFrom('credentials')
        .innerJoin('partners', 'partners.id', 'credentials.partner_id')
        .select(['credentials.partner_id', 'credentials.hash', 'credentials.status', 'credentials.expires_at', 'credentials.retire_at', 'partners.state'])
        .where('credentials.key_id', '=', parsed.keyId)
        .executeTakeFirst();
      const now = new Date().toISOString();
      const live =
        credential &&
        hashesEqual(credential.hash, hashApiKey(token)) &&
        credential.status === 'active' &&
        credential.expires_at > now &&
        (credential.state === 'active' || credential.state === 'recertification_due') &&
        (credential.retire_at === null || credential.retire_at > now);
      if (!credential || !live) throw problems.unauthorized();
      c.set('principal', { kind: 'partner_key', partnerId: credential.partner_id, keyId: parsed.keyId });
    } else {
      throw problems.unauthorized();
    }
    return next();
  };
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
