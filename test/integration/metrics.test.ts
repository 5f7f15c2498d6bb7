/**
 * Issue #17: the API's Prometheus metrics, scraped over HTTP from the metrics listener of a real
 * app after real requests (a submission, decisions, a pickup, failed introspections up to a 429,
 * gateway verdicts, a revocation), with raw ids never appearing as label values.
 */
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiMetrics, serveMetrics } from '../../api/metrics.js';
import { generateApiKey } from '../../domain/api-key.js';
import { loadConfig } from '../../config/env.js';
import { runApiProcess } from '../../runtime/processes.js';
import { activePartner } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let server: Awaited<ReturnType<typeof serveMetrics>>;
const metrics = new ApiMetrics();
const t: Record<string, string> = {};
const FAILURES_PER_MINUTE = 3;

beforeAll(async () => {
  stack = await startStack({ appOverrides: { metrics, limits: { introspectionFailuresPerMinute: FAILURES_PER_MINUTE } } });
  server = await serveMetrics(metrics, '127.0.0.1', 0);
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('gw', ['gateway']);
});
afterAll(async () => {
  await server?.close();
  await stack?.stop();
});

async function scrape(): Promise<string> {
  const res = await fetch(server.url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

/** The value of one series, 0 when it is absent: `name{a="x",b="y"}` with labels in any order. */
function value(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z_]+)\{(.*)\} (\S+)$/);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...m[2]!.matchAll(/([a-z_]+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return 0;
}

describe('the API metrics', () => {
  it('count requests by route pattern and status, verdicts by reason, budgets, pickups, revocations; no raw id as a label', async () => {
    const before = await scrape();
    // a submission, its approval and the key's pickup (then a second pickup: gone)
    const p = await activePartner(stack, { sponsor: t.alice! });
    expect((await stack.call('POST', `/v1/partners/${p.partnerId}/credentials/pickup`, { token: p.requestToken })).status).toBe(410);
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: t.alice })).status).toBe(200);
    expect((await stack.call('GET', `/nowhere/${p.partnerId}`)).status).toBe(404);

    // the gateway lets the key through, then a failed key
    const auth = (key: string) => stack.call('GET', '/v1/gateway/auth', { token: t.gw, headers: { 'x-partner-key': key, 'x-original-uri': '/orders/1', 'x-original-method': 'GET' } });
    expect((await auth(p.apiKey)).status).toBe(204);
    expect((await auth('hello')).status).toBe(401);
    // the edge gateway's question on a cache miss
    const verdict = (key: string) => stack.call('GET', '/v1/gateway/verdict', { token: t.gw, headers: { 'x-partner-key': key } });
    expect((await verdict(p.apiKey)).status).toBe(200);
    expect((await verdict('hello')).status).toBe(401);

    // introspection: active, then failures up to the budget, then a 429
    const introspect = (token: string) => stack.call('POST', '/v1/introspect', { token: t.gw, body: { token } });
    expect((await introspect(p.apiKey)).json.active).toBe(true);
    const unknown = generateApiKey('sandbox').apiKey; // well formed, never issued
    const answers = [];
    for (let i = 0; i <= FAILURES_PER_MINUTE; i++) answers.push((await introspect(i === 0 ? 'not-a-key' : unknown)).status);
    expect(answers).toEqual([200, 200, 200, 429]);

    // an emergency revocation; the revoked key is then refused for that reason
    expect((await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'key leaked' } })).status).toBe(202);
    expect((await auth(p.apiKey)).status).toBe(401);

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);

    expect(moved('partner_access_http_requests_total', { method: 'POST', route: '/v1/partners', status: '202' })).toBe(1);
    expect(moved('partner_access_http_requests_total', { method: 'POST', route: '/v1/partners/:id/decisions', status: '200' })).toBe(1);
    expect(moved('partner_access_http_requests_total', { method: 'GET', route: '/v1/partners/:id', status: '200' })).toBe(1);
    expect(moved('partner_access_http_requests_total', { method: 'POST', route: '/v1/introspect', status: '429' })).toBe(1);
    expect(moved('partner_access_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(moved('partner_access_http_request_duration_seconds_count', { method: 'POST', route: '/v1/partners' })).toBe(1);

    expect(moved('partner_access_key_verdicts_total', { endpoint: 'introspect', verdict: 'active' })).toBe(1);
    expect(moved('partner_access_key_verdicts_total', { endpoint: 'introspect', verdict: 'malformed' })).toBe(1);
    expect(moved('partner_access_key_verdicts_total', { endpoint: 'introspect', verdict: 'unknown' })).toBe(FAILURES_PER_MINUTE);
    expect(moved('partner_access_key_verdicts_total', { endpoint: 'gateway_auth', verdict: 'allowed' })).toBe(1);
    expect(moved('partner_access_key_verdicts_total', { endpoint: 'gateway_auth', verdict: 'malformed' })).toBe(1);
    expect(moved('partner_access_key_verdicts_total', { endpoint: 'gateway_auth', verdict: 'revoked' })).toBe(1);
    expect(moved('partner_access_key_verdicts_total', { endpoint: 'gateway_verdict', verdict: 'active' })).toBe(1);
    expect(moved('partner_access_key_verdicts_total', { endpoint: 'gateway_verdict', verdict: 'malformed' })).toBe(1);
    expect(moved('partner_access_rate_limit_refusals_total', { budget: 'gateway-failed-keys' })).toBe(0);

    expect(moved('partner_access_rate_limit_refusals_total', { budget: 'introspect-failures' })).toBe(1);
    expect(moved('partner_access_key_pickups_total', { outcome: 'picked_up' })).toBe(1);
    expect(moved('partner_access_key_pickups_total', { outcome: 'gone' })).toBe(1);
    expect(moved('partner_access_revocations_total', { kind: 'single' })).toBe(1);
    // read from the database at the scrape: a number, whatever the worker has drained meanwhile
    expect(after).toMatch(/^partner_access_outbox_pending_signals \d+$/m);

    // bounded labels: no partner id, key id, token, key or path a client chose
    for (const raw of [p.partnerId, p.keyId, p.requestToken, p.apiKey, unknown, '/nowhere', 'not-a-key', t.gw!]) expect(after).not.toContain(raw);
    for (const [, labels] of after.matchAll(/^[a-z_]+\{(.*)\} /gm)) expect(labels).not.toMatch(/P[0-9A-Z]{10,}/);
  });

  it('is not served by the API itself, and the metrics listener answers only GET /metrics', async () => {
    expect((await stack.call('GET', '/metrics')).status).toBe(404);
    expect((await fetch(server.url.replace(/\/metrics$/, '/other'))).status).toBe(404);
  });
});

describe('the API process', () => {
  it('serves its metrics on METRICS_HOST:METRICS_PORT, process metrics included, and nothing at /metrics on PORT', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const config = loadConfig({
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      DATA_DIR: stack.dir,
      DATABASE_URL: stack.databaseUrl,
      POLICY_FILE: stack.policyFile,
      PICKUP_KEY: stack.pickupKeyHex,
      PAYLOAD_KEYS: stack.payloadKeys,
      TEMPORAL_ADDRESS: stack.address,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      LOG_LEVEL: 'silent',
    });
    const api = await runApiProcess(config, { address: stack.address, namespace: 'default', options: {} }, stack.db, stack.logger);
    try {
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${api.url}/metrics`)).status).toBe(404);
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(value(text, 'partner_access_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })).toBe(1);
      expect(value(text, 'partner_access_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
      expect(text).toMatch(/^partner_access_process_cpu_seconds_total /m);
      expect(text).toMatch(/^partner_access_outbox_pending_signals \d+$/m);
    } finally {
      await api.stop();
    }
    // stopped: the listener is gone with the API
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
