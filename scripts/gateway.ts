/**
 * `npm run gateway`: a real nginx on GATEWAY_PORT (default 8080) in front of a sample upstream,
 * asking the API (API_UPSTREAM, default 127.0.0.1:3000) about every request. Needs a gateway
 * operator token in GATEWAY_TOKEN (`npm run operator -- create --name edge --roles gateway`).
 */
import path from 'node:path';
import { main, onShutdown } from '../runtime/boot.js';
import { startGateway } from '../runtime/gateway.js';
import { startSampleUpstream } from '../runtime/sample-upstream.js';
import { ConfigError } from '../config/env.js';

await main(async () => {
  const token = process.env.GATEWAY_TOKEN;
  if (!token) throw new ConfigError('Invalid configuration: GATEWAY_TOKEN is required (an operator token with the gateway role)');
  const port = Number(process.env.GATEWAY_PORT ?? 8080);
  const upstream = await startSampleUpstream(Number(process.env.SAMPLE_UPSTREAM_PORT ?? 8081));
  const gateway = await startGateway({
    port,
    apiUpstream: process.env.API_UPSTREAM ?? '127.0.0.1:3000',
    upstream: `127.0.0.1:${upstream.port}`,
    gatewayToken: token,
    runtimeDir: path.resolve(process.env.DATA_DIR ?? 'data', 'gateway'),
  });
  process.stdout.write(`Gateway: ${gateway.url} → sample upstream 127.0.0.1:${upstream.port} (routes and scopes: gateway/routes.json)\n`);
  onShutdown(async () => {
    await gateway.stop();
    await upstream.close();
  });
});
