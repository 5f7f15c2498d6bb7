import { randomBytes } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import { hashApiKey, hashesEqual, hashToken } from '../../domain/api-key.js';
import { closeSession, liveSession, openSession, pruneSessions, touchSession, type SessionRow } from '../../schema/repositories/sessions.js';
import { operatorFor, principalFor, requestTokenFor, type Principal } from '../auth.js';
import { liveKeyByHash } from '../introspection.js';
import { failureBudget, sourceOf, viaTrustedProxy, type RateLimiter } from '../rate-limit.js';
import { rateLimits } from '../../config/limits.js';
import type { AppDeps } from '../deps.js';
import { Problem } from '../problem.js';
import type { PageAppEnv } from './env.js';

/**
 * Sessions and CSRF protection for the portal and the console (issue #15).
 *
 * A browser signs in once with what the API accepts as a bearer credential (an operator token,
 * a partner's request token or key) and from then on holds only a random session id in an
 * HttpOnly, SameSite=Strict cookie (Secure and `__Host-` prefixed under TLS). The database keeps
 * the id's SHA-256 and the credential's hash; every request re-checks that credential with the
 * API's own rules, so revoking an operator, rotating a token or retiring a key ends the sessions
 * it opened at the next click. Sign-in spends the same failed-credential budget as the API.
 *
 * CSRF: every state-changing request must (1) not come from another site (Sec-Fetch-Site, then
 * Origin, when the browser sends them) and (2) carry the `_csrf` form field equal to the
 * `pa_csrf` cookie (double submit; the cookie is SameSite=Strict, so a cross-site form cannot
 * send it, and no other origin can read it to copy it into a field).
 */

export interface SessionOptions {
  /** a session unused this long ends (30 minutes by default) */
  idleMs: number;
  /** a session ends this long after sign-in, whatever its activity (12 hours by default) */
  maxAgeMs: number;
}
export const defaultSessionOptions: SessionOptions = { idleMs: 30 * 60_000, maxAgeMs: 12 * 3600_000 };

/** Writing last-seen on every click would make each page view a write; a minute's precision is plenty for a 30-minute timeout. */
const TOUCH_EVERY_MS = 60_000;

/** Under TLS the cookies get the `__Host-` prefix: Secure, Path=/, no Domain, so a sibling subdomain cannot plant one. */
/** Decided once per request by `pageSession`: TLS on our socket, or X-Forwarded-Proto from a trusted proxy only. */
const isTls = (c: Context) => (c as Context<PageAppEnv>).get('tls') === true;
const sessionCookie = (c: Context) => (isTls(c) ? '__Host-pa_session' : 'pa_session');
const csrfCookie = (c: Context) => (isTls(c) ? '__Host-pa_csrf' : 'pa_csrf');
const cookieOptions = (c: Context) => ({ httpOnly: true, sameSite: 'Strict' as const, path: '/', secure: isTls(c) });

const newSecret = () => randomBytes(32).toString('base64url');
const sessionIdHash = (id: string) => hashToken(id);

/** What a session row proves now, or undefined when its credential no longer holds. */
async function principalOfSession(deps: AppDeps, row: SessionRow): Promise<Principal | undefined> {
  switch (row.credential_kind) {
    case 'operator': {
      const operator = await operatorFor(deps.db, row.credential_hash);
      return operator?.name === row.subject ? operator : undefined;
    }
    case 'request_token':
      return requestTokenFor(deps.db, row.credential_hash);
    case 'partner_key': {
      // subject is the key id; the hash proves the secret still matches that key
      const owner = await liveKeyByHash(deps.db, row.subject, row.credential_hash);
      return owner && { kind: 'partner_key', ...owner };
    }
  }
}

/**
 * Resolves the session cookie into `principal` (anonymous without a live session) and makes sure
 * the browser holds a CSRF cookie, whose value forms echo (`c.get('csrfToken')`).
 */
export function pageSession(deps: AppDeps, options: SessionOptions): MiddlewareHandler<PageAppEnv> {
  return async (c, next) => {
    // a client could send X-Forwarded-Proto itself: only a trusted proxy's is believed (TRUSTED_PROXIES)
    c.set('tls', new URL(c.req.url).protocol === 'https:' || (c.req.header('x-forwarded-proto') === 'https' && viaTrustedProxy(c, deps.trustedProxies)));
    let csrf = getCookie(c, csrfCookie(c));
    if (!csrf || !/^[A-Za-z0-9_-]{43}$/.test(csrf)) {
      csrf = newSecret();
      setCookie(c, csrfCookie(c), csrf, cookieOptions(c));
    }
    c.set('csrfToken', csrf);
    c.set('principal', { kind: 'anonymous' });
    const id = getCookie(c, sessionCookie(c));
    if (id && /^[A-Za-z0-9_-]{43}$/.test(id)) {
      const idHash = sessionIdHash(id);
      const row = await liveSession(deps.db, idHash, options.idleMs);
      const principal = row && (await principalOfSession(deps, row));
      if (row && principal) {
        c.set('principal', principal);
        c.set('sessionIdHash', idHash);
        if (Date.now() - Date.parse(row.last_seen_at) > TOUCH_EVERY_MS) await touchSession(deps.db, idHash);
      } else {
        // a session whose credential no longer holds is over: remove it, so it cannot come back
        if (row) await closeSession(deps.db, idHash);
        deleteCookie(c, sessionCookie(c), cookieOptions(c));
      }
    }
    await next();
  };
}

const sameHost = (origin: string, host: string | undefined) => {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
};

/** Refuses a state-changing request from another site or without the form's CSRF token (403, nothing changed). */
export function csrfProtection(): MiddlewareHandler<PageAppEnv> {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    // Sec-Fetch-Site is set by the browser and cannot be forged by a page; where a browser lacks it,
    // Origin. Under our Referrer-Policy (no-referrer) Chromium sends `Origin: null` even for our own
    // forms, so a null origin proves nothing either way: the token below still decides.
    const site = c.req.header('sec-fetch-site');
    const origin = c.req.header('origin');
    const crossSite = site !== undefined ? site !== 'same-origin' && site !== 'none' : origin !== undefined && origin !== 'null' && !sameHost(origin, c.req.header('host'));
    if (crossSite) throw new Problem(403, 'Forbidden', 'cross-site requests are refused');
    const form = await c.req.parseBody().catch(() => {
      throw new Problem(400, 'Bad Request', 'the form could not be read');
    });
    const sent = typeof form._csrf === 'string' ? form._csrf : '';
    const expected = getCookie(c, csrfCookie(c)) ?? '';
    // compared as digests: equal lengths whatever was sent, so any text (even multi-byte) is a 403, never a throw
    if (!sent || !expected || !hashesEqual(hashToken(sent), hashToken(expected))) {
      throw new Problem(403, 'Forbidden', 'the form is missing its security token or it has expired; reload the page and try again');
    }
    return next();
  };
}

/**
 * Signs in with a credential the API accepts. Spends the API's failed-credential budget on a
 * wrong one (so the sign-in form is no faster a guessing oracle than the API); undefined when the
 * credential proves nothing.
 */
export function sessions(deps: AppDeps, limiter: RateLimiter, options: SessionOptions) {
  // the same budget name as the API's authenticate(): both count into one budget per source
  const failures = failureBudget(limiter, 'auth-failures', rateLimits(deps.limits).authFailuresPerMinute);
  async function open(c: Context<PageAppEnv>, principal: Exclude<Principal, { kind: 'anonymous' }>, token: string): Promise<void> {
    const credential: Pick<SessionRow, 'credential_kind' | 'credential_hash' | 'subject'> =
      principal.kind === 'operator'
        ? { credential_kind: 'operator', credential_hash: hashToken(token), subject: principal.name }
        : principal.kind === 'request_token'
          ? { credential_kind: 'request_token', credential_hash: principal.tokenHash, subject: '' }
          : { credential_kind: 'partner_key', credential_hash: hashApiKey(token), subject: principal.keyId };
    // a new id at every sign-in: an id planted before sign-in never becomes a signed-in session
    await signOut(c);
    const id = newSecret();
    const now = new Date();
    await pruneSessions(deps.db, options.idleMs, now);
    await openSession(deps.db, {
      id_hash: sessionIdHash(id),
      ...credential,
      created_at: now.toISOString(),
      last_seen_at: now.toISOString(),
      expires_at: new Date(now.getTime() + options.maxAgeMs).toISOString(),
    });
    setCookie(c, sessionCookie(c), id, { ...cookieOptions(c), maxAge: Math.floor(options.maxAgeMs / 1000) });
    c.set('principal', principal);
  }
  async function signOut(c: Context<PageAppEnv>): Promise<void> {
    const idHash = c.get('sessionIdHash');
    if (idHash) await closeSession(deps.db, idHash);
    deleteCookie(c, sessionCookie(c), cookieOptions(c));
    c.set('principal', { kind: 'anonymous' });
  }
  return {
    /**
     * Signs in with a pasted credential (trimmed) of one of the kinds this door `accepts`: an operator
     * token at the console, a request token or key at the portal. Anything else opens no session and
     * is spent against the source's failure budget, a valid credential of the other door's kind too.
     */
    async signIn(c: Context<PageAppEnv>, credential: string, accepts: readonly Principal['kind'][]): Promise<Principal | undefined> {
      const token = credential.trim();
      const resolve = async () => (token.length > 0 && token.length <= 200 ? principalFor(deps.db, token) : undefined);
      const refused = (p: Principal | undefined): p is undefined | Extract<Principal, { kind: 'anonymous' }> =>
        p === undefined || p.kind === 'anonymous' || !accepts.includes(p.kind);
      const checked = await failures.check(sourceOf(c), resolve, refused);
      if ('refused' in checked) throw new Problem(429, 'Too Many Requests', 'too many failed sign-ins from this address; retry later', {}, { 'Retry-After': String(checked.refused.retryAfterSeconds) });
      const principal = checked.result;
      if (refused(principal)) return undefined;
      await open(c, principal, token);
      return principal;
    },
    /**
     * Opens a session of a credential this request was just handed (a request token at submission,
     * a key at pickup or rotation): no budget to spend, and no failure to show, because the page that
     * calls it is showing a secret only once. False when no session could be opened; the partner
     * then signs in with what the page shows.
     */
    async adopt(c: Context<PageAppEnv>, credential: string): Promise<boolean> {
      try {
        const principal = await principalFor(deps.db, credential);
        if (!principal || principal.kind === 'anonymous') return false;
        await open(c, principal, credential);
        return true;
      } catch (err) {
        c.get('log').warn({ err: (err as Error).message }, 'no session for the credential just issued');
        return false;
      }
    },
    signOut,
  };
}
export type Sessions = ReturnType<typeof sessions>;
