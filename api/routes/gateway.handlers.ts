import type { Context } from 'hono';
import { parseApiKey } from '../../domain/api-key.js';
import { budgetSourceOf, canonicalAddress } from '../../domain/client-address.js';
import { verifyProbeToken } from '../../domain/probe-token.js';
import { normalizeRequestPath, pathRefusals } from '../../domain/request-path.js';
import { requiredScope, type GatewayRoutes } from '../../config/gateway-routes.js';
import { rateLimits } from '../../config/limits.js';
import { gatewayChangesAfter, latestGatewayChange, pruneGatewayChanges } from '../../schema/repositories/gateway-changes.js';
import type { AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { introspect, introspectKeyId } from '../introspection.js';
import { Problem, problemResponse, problems } from '../problem.js';
import { failureBudget, sourceOf, type RateLimiter } from '../rate-limit.js';
import type { AppRouteHandler } from '../router.js';
import type { UsageRecorder } from '../usage.js';
import * as routes from './gateway.routes.js';

/** How long changes are kept: a gateway cut off longer than this starts over (reset). */
const FEED_RETENTION_MS = 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;
/** How often a waiting long poll looks at the table: the feed's share of revocation → refusal. */
const CHANGES_POLL_MS = 20;

function keyFrom(headers: { get(name: string): string | undefined }): string | undefined {
  const direct = headers.get('x-partner-key')?.trim();
  if (direct) return direct;
  const authorization = headers.get('x-partner-authorization')?.trim();
  return authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
}

/**
 * The client nginx is serving, for its failed-key budget. X-Original-Remote-Addr is believed only
 * because the caller proved the gateway role (requireRole runs first); a gateway that does not
 * send it is budgeted as one client (its own address): fewer guesses, never more.
 */
function gatewayClient(c: Context<AppEnv>): string {
  const claimed = c.req.header('x-original-remote-addr');
  const address = claimed === undefined ? undefined : canonicalAddress(claimed);
  return address ? budgetSourceOf(address) : sourceOf(c);
}

/**
 * A gateway's refusal: the reason goes to the gateway (X-Auth-Reason, for its log), never to the
 * client's body beyond `detail`. /auth answers it (nginx's auth_request understands only
 * 2xx/401/403), /verdict throws it.
 */
function refusal(status: 401 | 403, reason: string, extra: Record<string, string> = {}, detail = reason): Problem {
  return new Problem(status, status === 401 ? 'Unauthorized' : 'Forbidden', detail, {}, {
    'X-Auth-Reason': reason,
    ...(status === 401 ? { 'WWW-Authenticate': 'Bearer realm="partner-api"' } : {}),
    ...extra,
  });
}

/**
 * The gateway's question for every partner request: this key, this method and path, may it pass?
 * nginx sets X-Original-Method / X-Original-URI / X-Original-Remote-Addr and forwards the client's
 * key as X-Partner-Key (or its Authorization as X-Partner-Authorization); it authenticates itself
 * with a gateway token. The order is: key (with the client's failed-key budget), then the path,
 * then the scope on the normalised path, then the tier. A pass names the target nginx forwards.
 */
export function createGatewayHandlers(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder, gatewayConfig: () => GatewayRoutes) {
  const failedKeys = failureBudget(limiter, 'gateway-failed-keys', rateLimits(deps.limits).introspectionFailuresPerMinute);
  let lastPruned = 0;
  const auth: AppRouteHandler<typeof routes.auth> = async (c) => {
    const config = gatewayConfig();
    // nginx understands only 2xx/401/403 from auth_request: any other status the client should
    // see travels as 403 + X-Auth-Status, and X-Auth-Reason reaches nginx's log only.
    const deny = (status: 401 | 403, reason: string, extra: Record<string, string> = {}, detail = reason) => problemResponse(c, refusal(status, reason, extra, detail));
    const tooMany = (reason: string, retryAfterSeconds: number) => deny(403, reason, { 'X-Auth-Status': '429', 'Retry-After': String(retryAfterSeconds) });
    const client = gatewayClient(c);

    const key = keyFrom({ get: (n) => c.req.header(n) });
    if (!key) return deny(401, 'missing');
    if (key.startsWith('pap_')) {
      // A revocation probe: the verdict for a key id, and never a pass. A signed probe is no guess.
      const keyId = deps.probeSecret ? verifyProbeToken(deps.probeSecret, key) : undefined;
      if (!keyId) {
        const spent = await failedKeys.spend(client);
        return spent.ok ? deny(401, 'malformed') : tooMany('too many failed keys (malformed)', spent.retryAfterSeconds);
      }
      const probed = await introspectKeyId(deps.db, deps.policy(), keyId, config.environment);
      return probed.active ? deny(403, 'probe: key active') : deny(401, probed.reason);
    }
    // Over the budget, no key is looked at: otherwise guessing would go on, a right guess passing.
    const checked = await failedKeys.check(client, () => introspect(deps.db, deps.policy(), key, config.environment), (v) => !v.active);
    if ('refused' in checked) return tooMany('too many failed keys', checked.refused.retryAfterSeconds);
    const verdict = checked.result;
    if (!verdict.active) return checked.overBudget ? tooMany(`too many failed keys (${verdict.reason})`, checked.overBudget.retryAfterSeconds) : deny(401, verdict.reason);

    const target = normalizeRequestPath(c.req.header('x-original-uri') ?? '');
    if (!target.ok) return deny(403, target.reason, { 'X-Auth-Status': '400' }, pathRefusals[target.reason]);
    const method = c.req.header('x-original-method') ?? 'GET';
    const scope = requiredScope(config, method, target.path);
    if (!scope || !verdict.scopes.includes(scope)) return deny(403, scope ? `missing scope ${scope}` : 'no such route');
    const rate = await limiter.take(`tier:${verdict.partnerId}`, verdict.rateLimit.requests, verdict.rateLimit.windowSeconds * 1000);
    if (!rate.ok) return tooMany('rate limited', rate.retryAfterSeconds);
    const parsed = parseApiKey(key);
    if (parsed.ok) usage.record(parsed.keyId, scope);
    c.header('X-Upstream-Target', target.target);
    c.header('X-Partner-Id', verdict.partnerId);
    c.header('X-Partner-Scopes', verdict.scopes.join(' '));
    c.header('X-Partner-Environment', verdict.environment);
    c.header('X-RateLimit-Limit', String(verdict.rateLimit.requests));
    c.header('X-RateLimit-Remaining', String(rate.remaining));
    return c.body(null, 204);
  };

  // The edge mode's miss: the same key checks and failed-key budget as /auth, no path and no tier
  // (the edge decides those itself, on every request, from this verdict).
  const verdict: AppRouteHandler<typeof routes.verdict> = async (c) => {
    const config = gatewayConfig();
    const client = gatewayClient(c);
    // refusals are thrown: the app's error handler writes the problem (with its headers)
    const key = keyFrom({ get: (n) => c.req.header(n) });
    if (!key) throw refusal(401, 'missing');
    if (key.startsWith('pap_')) {
      const keyId = deps.probeSecret ? verifyProbeToken(deps.probeSecret, key) : undefined;
      if (!keyId) {
        const spent = await failedKeys.spend(client);
        throw spent.ok ? refusal(401, 'malformed') : problems.tooMany(spent.retryAfterSeconds);
      }
      // The feed's head as of this answer: the edge applies the changes up to it, then asks its cache.
      const cursor = { 'X-Gateway-Cursor': String(await latestGatewayChange(deps.db)) };
      const probed = await introspectKeyId(deps.db, deps.policy(), keyId, config.environment);
      throw probed.active ? refusal(403, 'probe: key active', cursor) : refusal(401, probed.reason, cursor);
    }
    const checked = await failedKeys.check(client, () => introspect(deps.db, deps.policy(), key, config.environment), (v) => !v.active);
    if ('refused' in checked) throw problems.tooMany(checked.refused.retryAfterSeconds);
    const verdict = checked.result;
    if (!verdict.active) throw checked.overBudget ? problems.tooMany(checked.overBudget.retryAfterSeconds) : refusal(401, verdict.reason);
    const parsed = parseApiKey(key);
    // introspect() has parsed it already; a live verdict implies a well-formed key
    if (!parsed.ok) throw refusal(401, parsed.reason);
    return c.json({ keyId: parsed.keyId, ...verdict }, 200);
  };

  const reportUsage: AppRouteHandler<typeof routes.usage> = async (c) => {
    const { uses } = c.req.valid('json');
    // each count is recorded one by one (below): a report's work stays bounded (a sum the schema
    // cannot say, so a 422 rather than a 400)
    if (uses.reduce((sum, u) => sum + u.count, 0) > routes.MAX_USAGE_COUNT) throw problems.unprocessable(`at most ${routes.MAX_USAGE_COUNT} uses per report`);
    // UsageRecorder keeps the last use and the day's count per key and scope (both are what a
    // recertification reads); one record() per request let through, as /auth does.
    for (const use of uses) for (let i = 0; i < use.count; i++) usage.record(use.keyId, use.scope);
    return c.body(null, 204);
  };

  const changes: AppRouteHandler<typeof routes.changes> = async (c) => {
    const { after, wait } = c.req.valid('query');
    // The feed's readers keep it short: changes older than FEED_RETENTION_MS go, at most hourly per
    // process (a gateway further behind gets reset: true and starts over with an empty cache).
    if (Date.now() - lastPruned > PRUNE_EVERY_MS) {
      lastPruned = Date.now();
      void pruneGatewayChanges(deps.db, new Date(lastPruned - FEED_RETENTION_MS).toISOString()).catch(() => undefined);
    }
    const deadline = Date.now() + wait * 1000;
    const aborted = c.req.raw.signal;
    // The feed lives in the database (every API process answers alike); a waiting poll looks at
    // the newest seq (one primary-key lookup) every CHANGES_POLL_MS until something is there.
    for (;;) {
      const page = await gatewayChangesAfter(deps.db, after);
      if (page.changes.length > 0 || page.reset || after === undefined) return c.json(page, 200);
      while (Date.now() < deadline && !aborted.aborted && (await latestGatewayChange(deps.db)) <= after) {
        await new Promise((resolve) => setTimeout(resolve, CHANGES_POLL_MS));
      }
      if (Date.now() >= deadline || aborted.aborted) return c.json(page, 200);
    }
  };

  return { auth, verdict, reportUsage, changes };
}
