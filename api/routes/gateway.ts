import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { parseApiKey } from '../../domain/api-key.js';
import { budgetSourceOf, canonicalAddress } from '../../domain/client-address.js';
import { normalizeRequestPath, pathRefusals } from '../../domain/request-path.js';
import { requiredScope, type GatewayRoutes } from '../../config/gateway-routes.js';
import { rateLimits } from '../../config/limits.js';
import { requireRole, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { introspect, introspectKeyId } from '../introspection.js';
import type { UsageRecorder } from '../usage.js';
import { verifyProbeToken } from '../../domain/probe-token.js';
import { bearerSecurity, problemResponses } from '../openapi.js';
import { failureBudget, sourceOf, type RateLimiter } from '../rate-limit.js';
import { Problem, problemResponse } from '../problem.js';
import { createRouter } from '../router.js';

const route = createRoute({
  method: 'get',
  path: '/auth',
  summary:
    'nginx auth_request endpoint (gateway): 204 with X-Partner-Id / X-Partner-Scopes and X-Upstream-Target (the normalised target nginx forwards), 401 inactive key, 403 missing scope; signalled as 403 with X-Auth-Status (nginx answers that status): 400 when the path cannot be normalised, 429 with Retry-After over the tier or over the failed-key budget of the client',
  security: bearerSecurity,
  middleware: [requireRole('gateway')] as const,
  responses: { 204: { description: 'Allowed' }, ...problemResponses(401, 403) },
});

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
 * The gateway's question for every partner request: this key, this method and path, may it pass?
 * nginx sets X-Original-Method / X-Original-URI / X-Original-Remote-Addr and forwards the client's
 * key as X-Partner-Key (or its Authorization as X-Partner-Authorization); it authenticates itself
 * with a gateway token. The order is: key (with the client's failed-key budget), then the path,
 * then the scope on the normalised path, then the tier. A pass names the target nginx forwards.
 */
export function gatewayRoutes(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder, routes: () => GatewayRoutes) {
  const app = createRouter();
  const failedKeys = failureBudget(limiter, 'gateway-failed-keys', rateLimits(deps.limits).introspectionFailuresPerMinute);
  app.openapi(route, async (c) => {
    const config = routes();
    // nginx understands only 2xx/401/403 from auth_request: any other status the client should
    // see travels as 403 + X-Auth-Status, and X-Auth-Reason reaches nginx's log only.
    const deny = (status: 401 | 403, reason: string, extra: Record<string, string> = {}, detail = reason) =>
      problemResponse(
        c,
        new Problem(status, status === 401 ? 'Unauthorized' : 'Forbidden', detail, {}, {
          'X-Auth-Reason': reason,
          ...(status === 401 ? { 'WWW-Authenticate': 'Bearer realm="partner-api"' } : {}),
          ...extra,
        }),
      );
    const tooMany = (reason: string, retryAfterSeconds: number) => deny(403, reason, { 'X-Auth-Status': '429', 'Retry-After': String(retryAfterSeconds) });
    const client = gatewayClient(c);
    /** A key that proved nothing: spends the client's budget; the one over it is already a 429. */
    const failed = (reason: string) => {
      const spent = failedKeys.spend(client);
      return spent.ok ? deny(401, reason) : tooMany(`too many failed keys (${reason})`, spent.retryAfterSeconds);
    };

    const key = keyFrom({ get: (n) => c.req.header(n) });
    if (!key) return deny(401, 'missing');
    if (key.startsWith('pap_')) {
      // A revocation probe: the verdict for a key id, and never a pass. A signed probe is no guess.
      const keyId = deps.probeSecret ? verifyProbeToken(deps.probeSecret, key) : undefined;
      if (!keyId) return failed('malformed');
      const probed = await introspectKeyId(deps.db, deps.policy(), keyId, config.environment);
      return probed.active ? deny(403, 'probe: key active') : deny(401, probed.reason);
    }
    // Over the budget, no key is looked at: otherwise guessing would go on, a right guess passing.
    const closed = failedKeys.closed(client);
    if (closed) return tooMany('too many failed keys', closed.retryAfterSeconds);
    const verdict = await introspect(deps.db, deps.policy(), key, config.environment);
    if (!verdict.active) return failed(verdict.reason);

    const target = normalizeRequestPath(c.req.header('x-original-uri') ?? '');
    if (!target.ok) return deny(403, target.reason, { 'X-Auth-Status': '400' }, pathRefusals[target.reason]);
    const method = c.req.header('x-original-method') ?? 'GET';
    const scope = requiredScope(config, method, target.path);
    if (!scope || !verdict.scopes.includes(scope)) return deny(403, scope ? `missing scope ${scope}` : 'no such route');
    const rate = limiter.take(`tier:${verdict.partnerId}`, verdict.rateLimit.requests, verdict.rateLimit.windowSeconds * 1000);
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
  });
  return app;
}
