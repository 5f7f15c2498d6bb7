import path from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../runtime/dev-server.js';
import { startGateway } from '../../runtime/gateway.js';
import { startGatewayFor, rawGet } from '../helpers/gateway.js';
import { activePartner } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * The gateway decides on exactly the path it forwards. Through a real nginx (auth_request) and the
 * real API, in front of the sample upstream, which routes on the path the most lenient frameworks
 * would read (decoded, backslashes as slashes, `;` parameters dropped, NFKC, dot segments resolved
 * after decoding). Requests are written byte for byte on a socket: no client-side normalisation.
 */
const FAILED_KEYS_PER_MINUTE = 30;
let stack: Stack;
let edge: Awaited<ReturnType<typeof startGatewayFor>>;
let upstream: typeof edge.upstream;
let gateway: typeof edge.gateway;
let ordersKey: string;
let bothKey: string;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], rateLimitTiers: { standard: { requests: 10_000, window: '10s' } } },
    appOverrides: { limits: { introspectionFailuresPerMinute: FAILED_KEYS_PER_MINUTE } },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('edge', ['gateway']);
  edge = await startGatewayFor(stack, t.gw!);
  ({ upstream, gateway } = edge);
  ordersKey = (await activePartner(stack, { sponsor: t.alice! })).apiKey;
  bothKey = (await activePartner(stack, { sponsor: t.alice!, security: t.sec! }, { scopes: ['orders:read', 'payments:read'] })).apiKey;
}, 90_000);
afterAll(async () => {
  await edge?.stop();
  await stack?.stop();
});

const gatewayPort = () => Number(new URL(gateway.url).port);
const viaGateway = (target: string, key = ordersKey, localAddress?: string) => rawGet(gatewayPort(), target, { 'x-api-key': key }, localAddress);

/** Runs `send` and returns what the upstream received meanwhile. */
async function watchUpstream<T>(send: () => Promise<T>): Promise<{ result: T; reached: typeof upstream.seen }> {
  const before = upstream.seen.length;
  const result = await send();
  return { result, reached: upstream.seen.slice(before) };
}

describe('the gateway decides on exactly the path it forwards', () => {
  // A key holding only orders:read, aimed at /payments/1 in every spelling. Expected: 400 where the
  // path cannot be normalised unambiguously, 403 where it normalises to /payments/1 (or to no route).
  const attacks: [string, 400 | 403, string][] = [
    ['/payments/1', 403, ''],
    ['/orders/../payments/1', 403, ''],
    ['/orders/%2e%2e/payments/1', 403, ''],
    ['/orders/%2E%2e/payments/1', 403, ''],
    ['/orders/.%2E/payments/1', 403, ''],
    ['/orders/%2e%2e%2fpayments/1', 400, 'encoded-slash'],
    ['/orders/..%2fpayments/1', 400, 'encoded-slash'],
    ['/orders%2F..%2Fpayments/1', 400, 'encoded-slash'],
    ['//payments/1', 403, ''],
    ['/orders//../payments/1', 403, ''],
    ['/orders/./../payments/1', 403, ''],
    ['/./payments/1', 403, ''],
    ['/orders/1/../../payments/1', 403, ''],
    ['/orders;/../payments/1', 400, 'path-parameter'],
    ['/orders/..;/payments/1', 400, 'path-parameter'],
    ['/orders/1;x=y/../../payments/1', 400, 'path-parameter'],
    ['/orders/%3b/../../payments/1', 400, 'path-parameter'],
    ['/orders/%252e%252e/payments/1', 400, 'double-encoding'],
    ['/orders/%252e%252e%252fpayments%252f1', 400, 'double-encoding'],
    ['/orders/..%5cpayments/1', 400, 'backslash'],
    ['/orders\\..\\payments\\1', 400, 'backslash'],
    ['/orders/%c0%ae%c0%ae/payments/1', 400, 'invalid-utf8'],
    ['/orders/%ef%bc%8e%ef%bc%8e/payments/1', 400, 'ambiguous-character'],
    ['/orders/%EF%BC%8F..%EF%BC%8Fpayments/1', 400, 'ambiguous-character'],
    ['/orders/\u00ef\u00bc\u008f..\u00ef\u00bc\u008fpayments/1', 400, 'invalid-character'],
    [`/orders/${'a'.repeat(5000)}/../../payments/1`, 400, 'too-long'],
    // nginx itself refuses these while parsing, before any question is asked
    ['/orders/\u007f/../../payments/1', 400, 'by nginx'],
    ['/orders/\u0001/../../payments/1', 400, 'by nginx'],
    ['/orders/\t/../../payments/1', 400, 'by nginx'],
    ['/orders/%00/../../payments/1', 400, 'by nginx'],
    ['/orders/x%zz/../../payments/1', 400, 'by nginx'],
    ['/orders/../payments/1?page=2', 403, ''],
    ['/ORDERS/../payments/1', 403, ''],
    // absolute-form: nginx takes the host from it and $request_uri is the path alone
    ['http://partner-api/orders/%2e%2e/payments/1', 403, ''],
  ];

  const shown = (target: string) => (target.length > 60 ? `${target.slice(0, 30)}…(${target.length} characters)` : target);
  it.each(attacks.map(([target, status, reason]) => [shown(target), status, reason, target] as const))('%s → %i %s, and the upstream never sees it', async (_shown, expected, reason, target) => {
    const { result, reached } = await watchUpstream(() => viaGateway(target));
    expect(result.status, result.body).toBe(expected);
    expect(reached).toEqual([]);
    // a 400 is JSON: with the normalisation's reason code, or without one when nginx itself refused
    if (expected === 400) expect(JSON.parse(result.body)).toEqual(reason === 'by nginx' ? { error: 'bad request' } : { error: 'bad request', reason });
  });

  it('what passes reaches the upstream only as its normalised path, under the scope it was decided on', async () => {
    // each normalises to a path under /orders/: forwarded as that path, never as sent
    const passing: [string, string][] = [
      ['/orders/42', '/orders/42'],
      ['/orders/%34%32', '/orders/42'],
      ['/orders//42', '/orders/42'],
      ['/orders/./42', '/orders/42'],
      ['/orders/41/../42', '/orders/42'],
      ['/orders/41/%2e%2e/42', '/orders/42'],
      ['/payments/../orders/42', '/orders/42'],
      ['/orders/caf%c3%a9', '/orders/caf%C3%A9'],
      ['/orders/a{b}', '/orders/a%7Bb%7D'],
    ];
    for (const [sent, forwarded] of passing) {
      const { result, reached } = await watchUpstream(() => viaGateway(sent));
      expect(result.status, `${sent}: ${result.body}`).toBe(200);
      expect(reached.map((r) => r.target), sent).toEqual([forwarded]);
      expect(reached[0]!.path, sent).toBe(decodeURIComponent(forwarded));
      expect(JSON.parse(result.body).resource, sent).toBe('orders');
    }
  });

  it('the longest canonical target (expanded by encoding to 4096 characters) passes intact', async () => {
    const sent = `/orders/${'{'.repeat(1362)}`;
    const forwarded = `/orders/${'%7B'.repeat(1362)}`;
    expect(forwarded.length).toBe(4094);
    const { result, reached } = await watchUpstream(() => viaGateway(sent));
    expect(result.status, result.body).toBe(200);
    expect(reached.map((r) => r.target)).toEqual([forwarded]);
  });

  it('the legitimate request passes with its query string intact', async () => {
    const { result, reached } = await watchUpstream(() => viaGateway('/orders/42?limit=5&after=a%2Fb&q=%2e%2e'));
    expect(result.status, result.body).toBe(200);
    expect(reached).toEqual([{ method: 'GET', target: '/orders/42?limit=5&after=a%2Fb&q=%2e%2e', path: '/orders/42' }]);
  });

  it('a key with both scopes reaches /payments only through its normalised path', async () => {
    const { result, reached } = await watchUpstream(() => viaGateway('/orders/%2e%2e/payments/1', bothKey));
    expect(result.status, result.body).toBe(200);
    expect(reached.map((r) => r.target)).toEqual(['/payments/1']);
    // and a form that cannot be normalised stays refused whatever the key may do
    expect((await viaGateway('/orders/..%2fpayments/1', bothKey)).status).toBe(400);
  });

  it('routes match whole segments: /ordersX is not under /orders/', async () => {
    const { result, reached } = await watchUpstream(() => viaGateway('/ordersX/1'));
    expect(result.status).toBe(403);
    expect(reached).toEqual([]);
  });

  it('without a key, a bad path is still a 401 (nothing about routing is said to strangers)', async () => {
    const res = await rawGet(gatewayPort(), '/orders/..%2fpayments/1');
    expect(res.status).toBe(401);
  });
});

describe('failed keys are budgeted per client at the gateway', () => {
  const badKey = (i: number) => `pak_test_${'A'.repeat(16)}_${String(i).padStart(32, 'B')}_000000`;

  it(`after ${FAILED_KEYS_PER_MINUTE} failed keys a client gets 429 + Retry-After, even for a right key; another client is unaffected`, async () => {
    const port = gatewayPort();
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 50; i++) {
      const res = await rawGet(port, '/orders/1', { 'x-api-key': badKey(i) }, '127.0.0.2');
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers['retry-after'];
    }
    expect(statuses.slice(0, FAILED_KEYS_PER_MINUTE)).toEqual(new Array(FAILED_KEYS_PER_MINUTE).fill(401));
    expect(statuses.slice(FAILED_KEYS_PER_MINUTE)).toEqual(new Array(50 - FAILED_KEYS_PER_MINUTE).fill(429));
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // over its budget, the client's keys are not looked at: a right one is refused too
    const { result, reached } = await watchUpstream(() => viaGateway('/orders/1', ordersKey, '127.0.0.2'));
    expect(result.status).toBe(429);
    expect(reached).toEqual([]);
    // another client: its right key passes, its wrong key is a plain 401
    expect((await viaGateway('/orders/1', ordersKey, '127.0.0.3')).status).toBe(200);
    expect((await rawGet(port, '/orders/1', { 'x-api-key': badKey(99) }, '127.0.0.3')).status).toBe(401);
  });

  it('a client cannot pick the address it is budgeted under (X-Original-Remote-Addr is nginx’s to set)', async () => {
    const port = gatewayPort();
    const statuses: number[] = [];
    for (let i = 0; i < FAILED_KEYS_PER_MINUTE + 2; i++) {
      const res = await rawGet(port, '/orders/1', { 'x-api-key': badKey(i), 'x-original-remote-addr': `10.0.0.${i + 1}` }, '127.0.0.4');
      statuses.push(res.status);
    }
    expect(statuses.at(-1)).toBe(429);
  });
});

describe('nginx forwards nothing without a target from the auth endpoint', () => {
  let fakeAuth: Server;
  let direct: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    // An auth endpoint that says yes but names no target (an older API, a bug): nginx must not
    // fall back to the client's raw URI, which is what proxy_pass with an empty variable does.
    fakeAuth = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((r) => fakeAuth.listen(0, '127.0.0.1', r));
    direct = await startGateway({
      port: await freePort(),
      apiUpstream: `127.0.0.1:${(fakeAuth.address() as AddressInfo).port}`,
      upstream: `127.0.0.1:${upstream.port}`,
      gatewayToken: t.gw!,
      runtimeDir: path.join(stack.dir, 'gateway-no-target'),
    });
  });
  afterAll(async () => {
    await direct?.stop();
    await new Promise<void>((r) => (fakeAuth ? fakeAuth.close(() => r()) : r()));
  });

  it('a 204 without X-Upstream-Target → 502, and the upstream sees nothing', async () => {
    const { result, reached } = await watchUpstream(() => rawGet(Number(new URL(direct.url).port), '/orders/%2e%2e/payments/1', { 'x-api-key': ordersKey }));
    expect(result.status).toBe(502);
    expect(reached).toEqual([]);
  });
});
