/**
 * `npm run gateway`: a real nginx on GATEWAY_PORT (default 8080) in front of a sample upstream
 * (SAMPLE_UPSTREAM_PORT, default 8081), checking every request against the API (API_UPSTREAM,
 * default 127.0.0.1:3000). Needs a gateway operator token in GATEWAY_TOKEN (`npm run operator --
 * create --name edge --roles gateway`). GATEWAY_MODE=edge (the default when nginx's Lua module is
 * installed) decides on verdicts cached in nginx and follows the API's change feed;
 * GATEWAY_MODE=auth_request asks the API every time. GATEWAY_STALE_TTL (edge, seconds, default 60,
 * at least 30): how long cached verdicts are honoured while the feed is lost. The failed-key
 * budget per client is the API's RATE_LIMIT_INTROSPECTION_FAILURES_PER_MINUTE. Every variable is
 * read and validated by config/env.ts.
 */
import { main, onShutdown } from '../runtime/boot.js';
import { resolveGatewayMode, startGateway } from '../runtime/gateway.js';
import { startSampleUpstream } from '../runtime/sample-upstream.js';
import { ConfigError, loadConfig } from '../config/env.js';

await main(async () => {
  const config = loadConfig();
  const { gateway: settings } = config;
  if (!settings.token) throw new ConfigError('Invalid configuration: GATEWAY_TOKEN is required (an operator token with the gateway role)');
  const mode = resolveGatewayMode(settings.mode);
  const upstream = await startSampleUpstream(settings.sampleUpstreamPort);
  const gateway = await startGateway({
    port: settings.port,
    apiUpstream: settings.apiUpstream,
    upstream: `127.0.0.1:${upstream.port}`,
    gatewayToken: settings.token,
    runtimeDir: settings.runtimeDir,
    mode,
    staleTtlSeconds: settings.staleTtlSeconds,
    // the edge's failed-key budget per client is the API's (the API keeps its own as well)
    failedKeysPerMinute: config.limits.introspectionFailuresPerMinute,
    routesFile: config.gatewayRoutesFile,
  });
  process.stdout.write(`Gateway (${mode}): ${gateway.url} → sample upstream 127.0.0.1:${upstream.port} (routes and scopes: gateway/routes.json)\n`);
  onShutdown(async () => {
    await gateway.stop();
    await upstream.close();
  });
});
