import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, generateOpaqueToken } from '../../domain/api-key.js';
import { freePort } from '../../runtime/dev-server.js';
import { startGateway, type GatewayMode } from '../../runtime/gateway.js';
import { InMemoryRateLimiter } from '../../api/rate-limit.js';
import { rotateCredentialUpdate, workflowIdFor } from '../../workflows/messages.js';
import { rawRequest, serveApp, type RawResponse } from '../helpers/gateway.js';
import { activePartner, baseSubmission } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * An attacker with the source, against the boundaries issue #11 hardened: the real API on a real
 * socket, a real nginx in both modes (auth_request, and the Lua edge on cached verdicts) in front
 * of an upstream that records everything it receives (headers too), requests written byte for
 * byte, concurrent ones arriving in one event-loop poll. Each test is an attack that failed, kept
 * so it keeps failing (gateway-paths.test.ts covers the path spellings).
 */
const FAILURES = 10;
const GATEWAY_FAILURES = 10;
const ONBOARDING = 40;

/**
 * The product's limiter, counting every event it is asked to count: a failure spent is a
 * credential that was checked, so the count tells how many guesses were looked at even where the
 * answers cannot (past the budget every answer is a 429, checked or not).
 */
class CountingLimiter extends InMemoryRateLimiter {
  readonly taken = new Map<string, number>();
  override take(key: string, limit: number, windowMs: number, now?: number) {
    this.taken.set(key, (this.taken.get(key) ?? 0) + 1);
    return super.take(key, limit, windowMs, now);
  }
}
const limiter = new CountingLimiter();

let stack: Stack;
let api: Awaited<ReturnType<typeof serveApp>>;
let recorder: http.Server;
/** both ways nginx can decide: asking the API every time, and on verdicts cached at the edge (Lua) */
const modes: GatewayMode[] = ['auth_request', 'edge'];
const gateways = new Map<GatewayMode, Awaited<ReturnType<typeof startGateway>>>();
const t: Record<string, string> = {};
let ordersKey: string;

interface Received {
  method: string;
  target: string;
  headers: http.IncomingHttpHeaders;
}
const received: Received[] = [];

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [], rateLimitTiers: { standard: { requests: 10_000, window: '10s' } } },
    appOverrides: { rateLimiter: limiter, limits: { authFailuresPerMinute: FAILURES, introspectionFailuresPerMinute: GATEWAY_FAILURES, onboardingPerMinute: ONBOARDING } },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('edge', ['gateway']);
  ordersKey = (await activePartner(stack, { sponsor: t.alice! })).apiKey;
  api = await serveApp(stack);
  // the upstream a core service would be: it keeps every request with all its headers
  recorder = http.createServer((req, res) => {
    req.resume();
    received.push({ method: req.method ?? '', target: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  for (const mode of modes) {
    gateways.set(
      mode,
      await startGateway({
        port: await freePort(),
        apiUpstream: `127.0.0.1:${api.port}`,
        upstream: `127.0.0.1:${(recorder.address() as AddressInfo).port}`,
        gatewayToken: t.gw!,
        runtimeDir: path.join(stack.dir, `gateway-attacks-${mode}`),
        mode,
        failedKeysPerMinute: GATEWAY_FAILURES,
      }),
    );
  }
}, 120_000);
afterAll(async () => {
  for (const gateway of gateways.values()) await gateway.stop();
  recorder?.closeAllConnections();
  await new Promise<void>((r) => (recorder ? recorder.close(() => r()) : r()));
  await api?.close();
  await stack?.stop();
});

const gatewayPort = (mode: GatewayMode) => Number(new URL(gateways.get(mode)!.url).port);
/** A client address of its own per mode: the API's failed-key budget is per client, whichever gateway asks. */
const clientOf = (mode: GatewayMode, host: number) => `127.0.${modes.indexOf(mode) + 1}.${host}`;

async function watch<T>(send: () => Promise<T>): Promise<{ result: T; reached: Received[] }> {
  const before = received.length;
  const result = await send();
  return { result, reached: received.slice(before) };
}

async function clearOfMinuteBoundary(needMs = 15_000) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}

describe.each(modes)('gateway (%s): what the client sends beside the path', (mode) => {
  const viaGateway = (method: string, target: string, headers: [string, string][] = [], key = ordersKey, localAddress?: string) =>
    rawRequest(gatewayPort(mode), `${method} ${target} HTTP/1.0`, [['x-api-key', key], ...headers], localAddress);

  it('identity headers a client forges are replaced, and headers naming a target or verdict change nothing', async () => {
    const { result, reached } = await watch(() =>
      viaGateway('GET', '/orders/1', [
        ['x-partner-id', 'someone-else'],
        ['X-Partner-Scopes', 'payments:read payments:write'],
        ['x-partner-scopes', 'admin'],
        ['x-upstream-target', '/payments/1'],
        ['x-original-uri', '/payments/1'],
        ['x-original-method', 'POST'],
        ['x-auth-status', '204'],
      ]),
    );
    expect(result.status, result.body).toBe(200);
    expect(reached).toHaveLength(1);
    expect(reached[0]!.target).toBe('/orders/1');
    expect(reached[0]!.headers['x-partner-scopes']).toBe('orders:read');
    expect(reached[0]!.headers['x-partner-id']).not.toBe('someone-else');
    expect(reached[0]!.headers['x-api-key']).toBeUndefined();
    expect(reached[0]!.headers.authorization).toBeUndefined();
  });

  it('a forged X-Original-URI cannot move the decision: /payments with an orders key is refused whatever the client claims', async () => {
    const { result, reached } = await watch(() => viaGateway('GET', '/payments/1', [['x-original-uri', '/orders/1'], ['x-original-method', 'GET']]));
    expect(result.status).toBe(403);
    expect(reached).toEqual([]);
  });

  it('a forged X-Original-Remote-Addr or X-Forwarded-For does not move a client out of its failed-key budget', async () => {
    await clearOfMinuteBoundary();
    const statuses: number[] = [];
    for (let i = 0; i < GATEWAY_FAILURES + 3; i++) {
      const res = await viaGateway('GET', '/orders/1', [['x-forwarded-for', `10.1.0.${i}`], ['x-real-ip', `10.2.0.${i}`], ['x-original-remote-addr', `10.3.0.${i}`]], generateApiKey('sandbox').apiKey, clientOf(mode, 21));
      statuses.push(res.status);
    }
    expect(statuses.slice(0, GATEWAY_FAILURES)).toEqual(new Array(GATEWAY_FAILURES).fill(401));
    expect(statuses.slice(GATEWAY_FAILURES)).toEqual([429, 429, 429]);
  });

  it('the method decides the scope: a read key cannot POST, and methods no route names are refused', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'FOO']) {
      const { result, reached } = await watch(() => viaGateway(method, '/orders/1'));
      // 403 from the scope check; nginx answers TRACE 405 itself
      expect(result.status, method).toBe(method === 'TRACE' ? 405 : 403);
      expect(reached, method).toEqual([]);
    }
    // HEAD needs what GET needs, and is forwarded as HEAD
    const head = await watch(() => viaGateway('HEAD', '/orders/1'));
    expect(head.result.status).toBe(200);
    expect(head.reached.map((r) => [r.method, r.target])).toEqual([['HEAD', '/orders/1']]);
  });

  it('every request of a keep-alive connection is decided on its own', async () => {
    const before = received.length;
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ port: gatewayPort(mode), host: '127.0.0.1' });
      let out = '';
      socket.on('data', (d) => {
        out += d.toString('latin1');
        if ((out.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= 2 && out.endsWith('\n')) socket.end();
      });
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
      const h = `host: partner-api\r\nx-api-key: ${ordersKey}\r\n`;
      // pipelined: an allowed request, then one for another scope, the second with Connection: close
      socket.write(`GET /orders/1 HTTP/1.1\r\n${h}\r\nGET /payments/1 HTTP/1.1\r\n${h}connection: close\r\n\r\n`);
      setTimeout(() => socket.end(), 5000);
    });
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, 403]);
    expect(received.slice(before).map((r) => r.target)).toEqual(['/orders/1']);
  });

  it('a request target with userinfo, a fragment or an encoded ? or # decides on the path it forwards', async () => {
    const cases: [string, number, string[]][] = [
      ['http://x@partner-api/payments/1', 400, []],
      ['http://partner-api:80/orders/%2e%2e/payments/1', 403, []],
      ['/orders/1#/../../payments/1', 400, []],
      ['/orders/%3f/../../payments/1', 403, []],
      ['/orders/%23/../../payments/1', 403, []],
      ['/orders/1?/../../payments/1', 200, ['/orders/1?/../../payments/1']],
    ];
    for (const [target, status, forwarded] of cases) {
      const { result, reached } = await watch(() => viaGateway('GET', target).catch(() => ({ status: 400 }) as RawResponse));
      expect(result.status, target).toBe(status);
      expect(reached.map((r) => r.target), target).toEqual(forwarded);
    }
  });
});

/**
 * N requests that arrive together: every connection is opened and accepted first, then every
 * request is written in one tick, so the server reads them all in one poll of its event loop (a
 * budget checked before an await and spent after it would let all of them through).
 */
async function volley(n: number, from: string, port: number, request: (i: number) => string): Promise<RawResponse[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  const answers = sockets.map(
    (socket) =>
      new Promise<RawResponse>((resolve) => {
        let text = '';
        socket.on('data', (d) => (text += d.toString('latin1')));
        socket.on('end', () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), headers: {}, body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
        socket.on('error', () => resolve({ status: 0, headers: {}, body: '' }));
      }),
  );
  await new Promise((r) => setTimeout(r, 300));
  sockets.forEach((socket, i) => socket.write(request(i)));
  return Promise.all(answers);
}

describe('failure budgets under concurrency', () => {
  it('200 wrong operator tokens arriving together from one address: no more than the budget are checked', async () => {
    await clearOfMinuteBoundary();
    const statuses = await volley(200, '127.0.0.31', api.port, () => `GET /v1/partners HTTP/1.0\r\nhost: api\r\nauthorization: Bearer ${generateOpaqueToken('pat')}\r\n\r\n`);
    // exactly the budget is checked (401), every other attempt is refused unchecked (429)
    expect(statuses.filter((a) => a.status === 401)).toHaveLength(FAILURES);
    expect(statuses.filter((a) => a.status === 429)).toHaveLength(200 - FAILURES);
    expect(limiter.taken.get('auth-failures:127.0.0.31')).toBe(FAILURES);
  });

  it.each(modes)('200 wrong keys arriving together at nginx (%s) from one client: no more than the budget are checked', async (mode) => {
    await clearOfMinuteBoundary();
    const statuses = await volley(200, clientOf(mode, 32), gatewayPort(mode), () => `GET /orders/1 HTTP/1.0\r\nhost: partner-api\r\nx-api-key: ${generateApiKey('sandbox').apiKey}\r\n\r\n`);
    expect(statuses.filter((a) => a.status === 401)).toHaveLength(GATEWAY_FAILURES);
    expect(statuses.filter((a) => a.status === 429)).toHaveLength(200 - GATEWAY_FAILURES);
    // the answers alone cannot show it (past the budget a checked failure is a 429 too): the keys looked at
    expect(limiter.taken.get(`gateway-failed-keys:${clientOf(mode, 32)}`)).toBe(GATEWAY_FAILURES);
  });
});

describe('a rotation’s new key', () => {
  it('is never handed to the request token, not even while the rotation runs; a retried rotate gets the key of its cut-off first attempt', async () => {
    const { partnerId, requestToken, apiKey, keyId } = await activePartner(stack, { sponsor: t.alice! }, { name: 'Rotating' });
    // the request token hammers pickup while the partner rotates
    let stop = false;
    const sniped: number[] = [];
    const sniper = (async () => {
      while (!stop) {
        const res = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
        sniped.push(res.status);
        await new Promise((r) => setImmediate(r)); // the app runs in this process: let the Temporal client's I/O in
      }
    })();
    const rotated = await stack.call('POST', `/v1/partners/${partnerId}/credentials/rotate`, { token: apiKey });
    stop = true;
    await sniper;
    expect(rotated.status, rotated.text).toBe(200);
    expect(sniped.length).toBeGreaterThan(0);
    expect(sniped.every((status) => status === 410), JSON.stringify(sniped)).toBe(true);

    // a rotation whose answer was lost (the workflow issued the key, the API never handed it out):
    // the request token still gets nothing, the partner's retry with its current key gets that key
    const next = await activePartner(stack, { sponsor: t.alice! }, { name: 'Rotating, cut off' });
    const issued = await stack.client.workflow
      .getHandle(workflowIdFor(next.partnerId))
      .executeUpdate(rotateCredentialUpdate, { args: [{ currentKeyId: next.keyId, actor: { kind: 'partner', partnerId: next.partnerId } }] });
    expect(issued.issued?.keyId).toBeTruthy();
    expect((await stack.call('POST', `/v1/partners/${next.partnerId}/credentials/pickup`, { token: next.requestToken })).status).toBe(410);
    const retried = await stack.call('POST', `/v1/partners/${next.partnerId}/credentials/rotate`, { token: next.apiKey });
    expect(retried.status, retried.text).toBe(200);
    expect(retried.json.keyId).toBe(issued.issued!.keyId);
    expect(retried.json.keyId).not.toBe(next.keyId);
    expect((await stack.call('POST', '/v1/introspect', { token: t.gw!, body: { token: retried.json.apiKey } })).json.active).toBe(true);
    expect(keyId).not.toBe(rotated.json.keyId);
  }, 60_000);
});

describe('Idempotency-Key under concurrency', () => {
  it('twelve submissions at once with one key and one body: one partner, every answer the same 202', async () => {
    const key = `attack-${Date.now()}`;
    const body = JSON.stringify({ ...baseSubmission, name: `Race ${key}` });
    const answers = await volley(
      12,
      '127.0.0.41',
      api.port,
      () => `POST /v1/partners HTTP/1.0\r\nhost: api\r\ncontent-type: application/json\r\nidempotency-key: ${key}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const accepted = answers.filter((a) => a.status === 202).map((a) => JSON.parse(a.body) as { partnerId: string; requestToken: string });
    // a loser may be asked to retry (503) while the winner commits; never a 5xx of another kind, never a second partner
    for (const a of answers) expect([202, 503], a.body).toContain(a.status);
    expect(accepted.length).toBeGreaterThan(0);
    expect(new Set(accepted.map((a) => a.partnerId)).size).toBe(1);
    expect(new Set(accepted.map((a) => a.requestToken)).size).toBe(1);
    const rows = await stack.db.selectFrom('partners').select('id').where('name', '=', `Race ${key}`).execute();
    expect(rows).toHaveLength(1);
  });
});

describe('the two gateway modes decide alike', () => {
  it('1500 random targets of path syntax, escapes and look-alikes: the same answer and the same forwarded target from auth_request and the edge, and nothing outside /orders', async () => {
    // the edge's Lua port of the normalisation (gateway/partner_request_path.lua) against the API's
    // (domain/request-path.ts), through both real nginx configurations: a difference is a path one
    // mode refuses or routes and the other forwards
    const pieces = [
      '/', '/', '/', '.', '..', '%2e', '%2E', '%2e%2e', '.%2e', '%2e.', '...', '%2f', '%2F', '%5c', '\\', '%25', '%252e', ';', '%3b', 'orders', 'orders',
      'payments', 'ORDERS', '%6frders', '%c3%a9', '%ef%bc%8f', '%ef%bc%8e', '%e2%80%a4', '%e2%88%95', '%00', '%7f', '%c2%85', '%20', '?', '?x=/../', '%3f',
      '%23', 'a', '%', '%zz', '%u002e', '~', '%7e', '%41', '%2D', '+', '@', ':', '!', '$', '&', "'", '(', '*', ',', '=', '%40', '%3A', '[', ']', '{', '|',
      '%c0%ae', '%e0%80%ae', '%ed%a0%80', '%f4%90%80%80', '%f8%88%80%80%80', '%ff', '%80', '%C2%A0', '%ef%bb%bf', '%e2%80%8b', '%f0%9f%98%80', '%E2%82%AC',
    ];
    let seed = 12345;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const differences: string[] = [];
    const escaped: string[] = [];
    let passed = 0;
    for (let i = 0; i < 1500; i++) {
      let target = next(2) ? '/orders/' : '/';
      for (let n = 1 + next(8); n > 0; n--) target += pieces[next(pieces.length)]!;
      const outcomes: string[] = [];
      for (const mode of modes) {
        // nginx may close on a request it cannot parse: that is an answer too, the same from both or not
        const { result, reached } = await watch(() => rawRequest(gatewayPort(mode), `GET ${target} HTTP/1.0`, [['x-api-key', ordersKey]]).catch((): RawResponse => ({ status: 0, headers: {}, body: '' })));
        let reason = '';
        try {
          reason = (JSON.parse(result.body) as { reason?: string }).reason ?? '';
        } catch {
          reason = 'not JSON';
        }
        const forwarded = reached.map((r) => r.target);
        escaped.push(...forwarded.filter((f) => !/^\/orders(\/|\?|$)/.test(f)).map((f) => `${target} → ${f}`));
        if (result.status === 200) passed++;
        outcomes.push(`${result.status} ${reason} ${forwarded.join(',')}`);
      }
      if (outcomes[0] !== outcomes[1]) differences.push(`${JSON.stringify(target)}: auth_request ${outcomes[0]} | edge ${outcomes[1]}`);
    }
    expect(differences).toEqual([]);
    expect(escaped).toEqual([]);
    // the draw reaches the upstream too, not only refusals
    expect(passed).toBeGreaterThan(50);
  }, 120_000);
});
