import http from 'node:http';
import { serveApp } from '../helpers/gateway.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, generateOpaqueToken } from '../../domain/api-key.js';
import { parseTrustedProxies } from '../../domain/client-address.js';
import { activePartner, baseSubmission } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Failed-credential budgets per client and client addresses behind proxies, over real HTTP: the
 * app listens on a real socket (dual-stack `::`, so IPv4 peers arrive IPv4-mapped as they do in
 * production) and each request leaves from an address of its own in 127/8.
 */
const FAILURES = 20;
const ONBOARDING = 3;
const INTROSPECTION_FAILURES = 5;
const PROXY = '127.0.0.2';

let stack: Stack;
let server: Awaited<ReturnType<typeof serveApp>>;
let port: number;
const t: Record<string, string> = {};
let partner: Awaited<ReturnType<typeof activePartner>>;

beforeAll(async () => {
  stack = await startStack({
    // the fixture partner stays active however long the tests wait for a fresh minute
    policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [] },
    appOverrides: {
      trustedProxies: parseTrustedProxies(`${PROXY}/32`),
      limits: { authFailuresPerMinute: FAILURES, onboardingPerMinute: ONBOARDING, introspectionFailuresPerMinute: INTROSPECTION_FAILURES },
    },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('gw', ['gateway']);
  partner = await activePartner(stack, { sponsor: t.alice, security: t.sec });
  server = await serveApp(stack, '::');
  port = server.port;
}, 120_000);
afterAll(async () => {
  await server?.close();
  await stack?.stop();
});

interface Sent {
  status: number;
  retryAfter: string | undefined;
  contentType: string | undefined;
  json: any;
}

/** One request from `from` (a loopback address), optionally with an X-Forwarded-For header. */
function send(from: string, method: string, path: string, init: { token?: string; apiKey?: string; forwardedFor?: string; body?: unknown } = {}): Promise<Sent> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.apiKey) headers['x-api-key'] = init.apiKey;
  if (init.forwardedFor) headers['x-forwarded-for'] = init.forwardedFor;
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  if (body) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, localAddress: from, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], contentType: res.headers['content-type'], json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Budgets are per-minute sliding windows: a burst that straddles a minute boundary sees the
 * previous minute's count decay. Start every burst well inside a minute so the count is exact.
 */
async function clearOfMinuteBoundary(needMs = 12_000) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}

const partnerPath = () => `/v1/partners/${partner.partnerId}`;

/** `count` failing attempts; returns the statuses. */
async function failures(count: number, attempt: (i: number) => Promise<Sent>) {
  const answers: Sent[] = [];
  for (let i = 0; i < count; i++) answers.push(await attempt(i));
  return answers;
}

function expectBudgetSpentThen429(answers: Sent[]) {
  expect(answers.slice(0, FAILURES).map((a) => a.status)).toEqual(new Array(FAILURES).fill(401));
  const refused = answers.slice(FAILURES);
  expect(refused.length).toBeGreaterThan(0);
  expect(refused.map((a) => a.status)).toEqual(new Array(refused.length).fill(429));
  for (const a of refused) {
    expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(a.retryAfter)).toBeLessThanOrEqual(60);
    expect(a.contentType).toContain('application/problem+json');
  }
  expect(refused[0]!.json.detail).toMatch(/failed credentials/);
}

describe('failed-credential budgets per client', () => {
  it('300 wrong operator tokens: 429 + Retry-After after the budget, even for the right token; another address is unaffected', async () => {
    await clearOfMinuteBoundary();
    const attacker = '127.0.0.10';
    const answers = await failures(300, () => send(attacker, 'GET', partnerPath(), { token: generateOpaqueToken('pat') }));
    expectBudgetSpentThen429(answers);
    // refused before the token is looked at: a right guess would no longer answer 200
    expect((await send(attacker, 'GET', partnerPath(), { token: t.sec })).status).toBe(429);
    expect((await send('127.0.0.11', 'GET', partnerPath(), { token: t.sec })).status).toBe(200);
    // a request without any credential is not a credential attempt
    expect((await send(attacker, 'GET', '/healthz')).status).toBe(200);
  });

  it('bad partner keys in X-API-Key or Authorization: 429 after the budget; the key from another address works', async () => {
    await clearOfMinuteBoundary();
    const attacker = '127.0.0.12';
    const badKeys = [
      'pak_x',
      `${partner.apiKey.slice(0, -6)}000000`, // bad checksum
      generateApiKey('sandbox').apiKey, // well-formed, unknown
    ];
    const answers = await failures(FAILURES + 5, (i) => {
      const key = badKeys[i % badKeys.length]!;
      return send(attacker, 'GET', partnerPath(), i % 2 === 0 ? { apiKey: key } : { token: key });
    });
    expectBudgetSpentThen429(answers);
    expect((await send(attacker, 'GET', partnerPath(), { apiKey: partner.apiKey })).status).toBe(429);
    expect((await send('127.0.0.13', 'GET', partnerPath(), { apiKey: partner.apiKey })).status).toBe(200);
  });

  it('wrong request tokens are 401 whatever the partner id, then 429; the right token from another address works', async () => {
    await clearOfMinuteBoundary();
    const attacker = '127.0.0.14';
    const answers = await failures(FAILURES + 5, (i) => {
      const path = i % 2 === 0 ? partnerPath() : '/v1/partners/NoSuchPartner0001';
      return i % 3 === 0
        ? send(attacker, 'POST', `${path}/credentials/pickup`, { token: generateOpaqueToken('prt') })
        : send(attacker, 'GET', path, { token: generateOpaqueToken('prt') });
    });
    expectBudgetSpentThen429(answers);
    expect((await send(attacker, 'GET', partnerPath(), { token: partner.requestToken })).status).toBe(429);
    expect((await send('127.0.0.15', 'GET', partnerPath(), { token: partner.requestToken })).status).toBe(200);
  });

  it('junk tokens of every kind are 401 at authentication; a valid request token on an unknown id stays 404', async () => {
    const from = '127.0.0.16';
    for (const junk of ['prt_x', 'pat_x', 'pak_x', 'prt_', `${partner.requestToken}x`, 'xyz']) {
      for (const [method, path] of [['GET', partnerPath()], ['POST', `${partnerPath()}/credentials/pickup`], ['GET', '/v1/partners/NoSuchPartner0001']] as const) {
        const res = await send(from, method, path, { token: junk });
        expect(res.status, `${junk} ${method} ${path}`).toBe(401);
        expect(res.contentType).toContain('application/problem+json');
      }
    }
    // the token is real: which partner it opens is the route's question, and unknown ids cannot be told apart
    expect((await send(from, 'GET', '/v1/partners/NoSuchPartner0001', { token: partner.requestToken })).status).toBe(404);
  });
});

describe('client addresses behind a trusted proxy', () => {
  it('two clients behind the same trusted proxy have separate budgets; the header from an untrusted peer is ignored', async () => {
    await clearOfMinuteBoundary();
    const blocked = '198.51.100.7';
    const other = '198.51.100.8';
    const answers = await failures(FAILURES + 3, () => send(PROXY, 'GET', partnerPath(), { token: generateOpaqueToken('pat'), forwardedFor: blocked }));
    expectBudgetSpentThen429(answers);
    expect((await send(PROXY, 'GET', partnerPath(), { token: t.sec, forwardedFor: blocked })).status).toBe(429);
    // another client of the same proxy: its own budget
    expect((await send(PROXY, 'GET', partnerPath(), { token: generateOpaqueToken('pat'), forwardedFor: other })).status).toBe(401);
    expect((await send(PROXY, 'GET', partnerPath(), { token: t.sec, forwardedFor: other })).status).toBe(200);
    // a chain through the proxy names the client left of it (the proxy's own entry is a trusted hop)
    expect((await send(PROXY, 'GET', partnerPath(), { token: t.sec, forwardedFor: `${blocked}, ${PROXY}` })).status).toBe(429);
    // the proxy itself is not the blocked client
    expect((await send(PROXY, 'GET', partnerPath(), { token: t.sec })).status).toBe(200);
    // an untrusted peer naming the blocked client is judged by its own address
    expect((await send('127.0.0.17', 'GET', partnerPath(), { token: t.sec, forwardedFor: blocked })).status).toBe(200);
  });

  it('a spoofed X-Forwarded-For from an untrusted peer neither escapes its budget nor blocks the address it names', async () => {
    await clearOfMinuteBoundary();
    const spoofer = '127.0.0.18';
    const named = (i: number) => `203.0.113.${i + 1}`;
    const answers = await failures(FAILURES + 3, (i) => send(spoofer, 'GET', partnerPath(), { token: generateOpaqueToken('pat'), forwardedFor: named(i) }));
    expectBudgetSpentThen429(answers);
    expect((await send(spoofer, 'GET', partnerPath(), { token: t.sec, forwardedFor: '203.0.113.250' })).status).toBe(429);
    expect((await send(PROXY, 'GET', partnerPath(), { token: t.sec, forwardedFor: named(0) })).status).toBe(200);
  });

  it('the public onboarding budget follows the client behind the proxy', async () => {
    await clearOfMinuteBoundary();
    const submitAs = (client: string) => send(PROXY, 'POST', '/v1/partners', { forwardedFor: client, body: baseSubmission });
    for (let i = 0; i < ONBOARDING; i++) expect((await submitAs('198.51.100.20')).status).toBe(202);
    const refused = await submitAs('198.51.100.20');
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await submitAs('198.51.100.21')).status).toBe(202);
  });

  it('the introspection failure budget follows the client behind the proxy', async () => {
    await clearOfMinuteBoundary();
    const probe = (client: string) => send(PROXY, 'POST', '/v1/introspect', { token: t.gw, forwardedFor: client, body: { token: generateApiKey('sandbox').apiKey } });
    for (let i = 0; i < INTROSPECTION_FAILURES; i++) {
      const res = await probe('198.51.100.30');
      expect(res.status).toBe(200);
      expect(res.json.active).toBe(false);
    }
    expect((await probe('198.51.100.30')).status).toBe(429);
    expect((await probe('198.51.100.31')).status).toBe(200);
  });
});
