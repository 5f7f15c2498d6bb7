import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { parseApiKey } from '../../domain/api-key.js';
import { requiredScope, type GatewayRoutes } from '../../config/gateway-routes.js';
import { requireRole, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { introspect, introspectKeyId } from '../introspection.js';
import type { UsageRecorder } from '../usage.js';
import { verifyProbeToken } from '../../domain/probe-token.js';
import { bearerSecurity, problemResponses } from '../openapi.js';
import type { RateLimiter } from '../rate-limit.js';
import { validationHook } from '../validation.js';
import { Problem, problemResponse } from '../problem.js';

const route = createRoute({
  method: 'get',
  path: '/auth',
  summary:
    'nginx auth_request endpoint (gateway): 204 with X-Partner-Id / X-Partner-Scopes, 401 inactive key, 403 missing scope; over the tier: 403 with X-Auth-Status: 429 and Retry-After (nginx turns it into 429)',
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
 * The gateway's question for every partner request: this key, this method and path, may it pass?
 * nginx sets X-Original-Method / X-Original-URI and forwards the client's key as X-Partner-Key (or
 * its Authorization as X-Partner-Authorization); it authenticates itself with a gateway token.
 */
export function gatewayRoutes(deps: AppDeps, limiter: RateLimiter, usage: UsageRecorder, routes: () => GatewayRoutes) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(route, async (c) => {
    const config = routes();
    const deny = (status: 401 | 403, reason: string, extra: Record<string, string> = {}) =>
      problemResponse(
        c,
        new Problem(status, status === 401 ? 'Unauthorized' : 'Forbidden', reason, {}, {
          'X-Auth-Reason': reason,
          ...(status === 401 ? { 'WWW-Authenticate': 'Bearer realm="partner-api"' } : {}),
          ...extra,
        }),
      );
    const key = keyFrom({ get: (n) => c.req.header(n) });
    if (!key) return deny(401, 'missing');
    if (key.startsWith('pap_')) {
      // A revocation probe: the verdict for a key id, and never a pass.
      const keyId = deps.probeSecret ? verifyProbeToken(deps.probeSecret, key) : undefined;
      if (!keyId) return deny(401, 'malformed');
      const probed = await introspectKeyId(deps.db, deps.policy(), keyId, config.environment);
      return probed.active ? deny(403, 'probe: key active') : deny(401, probed.reason);
    }
    const verdict = await introspect(deps.db, deps.policy(), key, config.environment);
    if (!verdict.active) return deny(401, verdict.reason);
    const method = c.req.header('x-original-method') ?? 'GET';
    const uri = c.req.header('x-original-uri') ?? '/';
    const scope = requiredScope(config, method, uri);
    if (!scope || !verdict.scopes.includes(scope)) return deny(403, scope ? `missing scope ${scope}` : 'no such route');
    const rate = limiter.take(`tier:${verdict.partnerId}`, verdict.rateLimit.requests, verdict.rateLimit.windowSeconds * 1000);
    if (!rate.ok) return deny(403, 'rate limited', { 'X-Auth-Status': '429', 'Retry-After': String(rate.retryAfterSeconds) });
    const parsed = parseApiKey(key);
    if (parsed.ok) usage.record(parsed.keyId, scope);
    c.header('X-Partner-Id', verdict.partnerId);
    c.header('X-Partner-Scopes', verdict.scopes.join(' '));
    c.header('X-Partner-Environment', verdict.environment);
    c.header('X-RateLimit-Limit', String(verdict.rateLimit.requests));
    c.header('X-RateLimit-Remaining', String(rate.remaining));
    c.header('Cache-Control', 'no-store');
    return c.body(null, 204);
  });
  return app;
}
