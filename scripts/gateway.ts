/**
 * `npm run gateway`: a real nginx on GATEWAY_PORT (default 8080) in front of a sample upstream,
 * checking every request against the API (API_UPSTREAM, default 127.0.0.1:3000). Needs a gateway
 * operator token in GATEWAY_TOKEN (`npm run operator -- create --name edge --roles gateway`).
 * GATEWAY_MODE=edge (the default when nginx's Lua module is installed) decides on verdicts cached
 * in nginx and follows the API's change feed; GATEWAY_MODE=auth_request asks the API every time.
 * GATEWAY_STALE_TTL (edge, seconds, default 60, at least 30): how long cached verdicts are honoured
 * while the feed is lost.
 */
import path from 'node:path';
import { main, onShutdown } from '../runtime/boot.js';
import { DEFAULT_STALE_TTL_SECONDS, resolveGatewayMode, startGateway } from '../runtime/gateway.js';
import { defaultRateLimits } from '../config/limits.js';
import { startSampleUpstream } from '../runtime/sample-upstream.js';
import { ConfigError } from '../config/env.js';

await main(async () => {
  const token = process.env.GATEWAY_TOKEN;
  if (!token) throw new ConfigError('Invalid configuration: GATEWAY_TOKEN is required (an operator token with the gateway role)');
  const port = Number(process.env.GATEWAY_PORT ?? 8080);
  const mode = resolveGatewayMode();
  const staleTtlSeconds = Number(process.env.GATEWAY_STALE_TTL ?? DEFAULT_STALE_TTL_SECONDS);
  // the edge's failed-key budget per client is the API's (the API keeps its own as well)
  const failedKeysPerMinute = Number(process.env.RATE_LIMIT_INTROSPECTION_FAILURES_PER_MINUTE ?? defaultRateLimits.introspectionFailuresPerMinute);
  if (!Number.isInteger(failedKeysPerMinute) || failedKeysPerMinute < 1) {
    throw new ConfigError('Invalid configuration: RATE_LIMIT_INTROSPECTION_FAILURES_PER_MINUTE must be a positive integer');
  }
  const upstream = await startSampleUpstream(Number(process.env.SAMPLE_UPSTREAM_PORT ?? 8081));
  const gateway = await startGateway({
    port,
    apiUpstream: process.env.API_UPSTREAM ?? '127.0.0.1:3000',
    upstream: `127.0.0.1:${upstream.port}`,
    gatewayToken: token,
    runtimeDir: path.resolve(process.env.DATA_DIR ?? 'data', 'gateway'),
    mode,
    staleTtlSeconds,
    failedKeysPerMinute,
    routesFile: process.env.GATEWAY_ROUTES_FILE,
  });
  process.stdout.write(`Gateway (${mode}): ${gateway.url} → sample upstream 127.0.0.1:${upstream.port} (routes and scopes: gateway/routes.json)\n`);
  onShutdown(async () => {
    await gateway.stop();
    await upstream.close();
  });
});
