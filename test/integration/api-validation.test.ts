import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activePartner, baseSubmission, submit } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Bad input gets a clear 4xx problem with a reason and changes nothing. Each case snapshots the
 * tables the route could touch and compares after the call.
 */
let stack: Stack;
const t: Record<string, string> = {};
let active: Awaited<ReturnType<typeof activePartner>>;
let pending: { partnerId: string; requestToken: string };

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [] },
    appOverrides: { bodyLimitBytes: 4096, limits: { onboardingPerMinute: 1000 } },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('gw', ['gateway']);
  t.aud = await stack.operator('aud', ['auditor']);
  active = await activePartner(stack, { sponsor: t.alice! });
  pending = await submit(stack);
});
afterAll(() => stack?.stop());

async function snapshot() {
  const count = async (table: 'partners' | 'audit_events' | 'decisions' | 'credentials' | 'recertifications' | 'idempotency_keys') =>
    Number((await stack.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const partners = await stack.db.selectFrom('partners').selectAll().orderBy('id').execute();
  return {
    partners,
    audit: await count('audit_events'),
    decisions: await count('decisions'),
    credentials: await count('credentials'),
    recertifications: await count('recertifications'),
    idempotency: await count('idempotency_keys'),
  };
}

interface Case {
  name: string;
  method: string;
  url: () => string;
  token?: () => string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  detail?: RegExp;
}

const longText = 'x'.repeat(5000);
const cases: Case[] = [
  // submission
  { name: 'missing fields', method: 'POST', url: () => '/v1/partners', body: { name: 'A' }, status: 400, detail: /contactEmail/ },
  { name: 'wrong types', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, scopes: 'orders:read' }, status: 400, detail: /scopes/ },
  { name: 'unknown field state', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, state: 'active' }, status: 400, detail: /unknown field/ },
  { name: 'unknown field approvedBy', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, approvedBy: 'alice' }, status: 400, detail: /approvedBy/ },
  { name: 'unknown field hash', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, hash: 'abc' }, status: 400, detail: /hash/ },
  { name: 'bad email', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, contactEmail: 'not-an-email' }, status: 400, detail: /contactEmail/ },
  { name: 'bad environment', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, environment: 'staging' }, status: 400, detail: /environment/ },
  { name: 'empty scopes', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, scopes: [] }, status: 400, detail: /scopes/ },
  { name: 'huge scope list', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, scopes: Array.from({ length: 51 }, (_, i) => `scope${i}:read`) }, status: 400 },
  { name: 'unknown scope', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, scopes: ['admin:everything'] }, status: 422, detail: /unknown scopes/ },
  { name: 'control characters in name', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, name: 'Acme\u0000\u0007' }, status: 400, detail: /control/ },
  { name: 'SQL-looking sponsor', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, sponsor: "alice' OR 1=1 --" }, status: 400, detail: /sponsor/ },
  { name: 'accessUntil in the past', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, accessUntil: '2001-01-01T00:00:00Z' }, status: 422, detail: /future/ },
  { name: 'accessUntil far future', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, accessUntil: '9999-12-31T00:00:00Z' }, status: 422, detail: /maximum/ },
  { name: 'accessUntil not a date', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, accessUntil: 'tomorrow' }, status: 400, detail: /accessUntil/ },
  { name: 'oversized body', method: 'POST', url: () => '/v1/partners', body: { ...baseSubmission, justification: longText }, status: 413 },
  { name: 'not JSON content type', method: 'POST', url: () => '/v1/partners', body: 'name=Acme', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 },
  { name: 'malformed JSON', method: 'POST', url: () => '/v1/partners', body: '{"name": ', status: 400 },
  { name: 'JSON array body', method: 'POST', url: () => '/v1/partners', body: '[1,2]', status: 400 },
  { name: 'bad Idempotency-Key', method: 'POST', url: () => '/v1/partners', body: baseSubmission, headers: { 'idempotency-key': 'ü'.repeat(3) }, status: 400 },
  // ids and queries
  { name: 'bad partner id', method: 'GET', url: () => '/v1/partners/..%2F..%2Fetc', token: () => t.alice, status: 400 },
  { name: 'SQL-looking id', method: 'GET', url: () => "/v1/partners/1'%20OR%20'1'='1", token: () => t.alice, status: 400 },
  { name: 'unknown id', method: 'GET', url: () => '/v1/partners/ZZZZZZZZZZZZZZZZ', token: () => t.alice, status: 404 },
  { name: 'page size over the cap', method: 'GET', url: () => '/v1/partners?limit=100000', token: () => t.aud, status: 400, detail: /limit/ },
  { name: 'unknown list filter', method: 'GET', url: () => '/v1/partners?owner=alice', token: () => t.aud, status: 400 },
  { name: 'bad state filter', method: 'GET', url: () => '/v1/partners?state=bogus', token: () => t.aud, status: 400 },
  // decisions
  { name: 'decision missing reason', method: 'POST', url: () => `/v1/partners/${pending.partnerId}/decisions`, token: () => t.alice, body: { decision: 'approve' }, status: 400, detail: /reason/ },
  { name: 'decision bad value', method: 'POST', url: () => `/v1/partners/${pending.partnerId}/decisions`, token: () => t.alice, body: { decision: 'maybe', reason: 'r' }, status: 400 },
  { name: 'decision widening scopes', method: 'POST', url: () => `/v1/partners/${pending.partnerId}/decisions`, token: () => t.alice, body: { decision: 'approve', scopes: ['payments:write'], reason: 'r' }, status: 422 },
  { name: 'decision with unknown field', method: 'POST', url: () => `/v1/partners/${pending.partnerId}/decisions`, token: () => t.alice, body: { decision: 'approve', reason: 'r', approvedBy: 'alice' }, status: 400 },
  // recertification, extension, offboarding on the active partner
  { name: 'recertification not due', method: 'POST', url: () => `/v1/partners/${active.partnerId}/recertifications`, token: () => t.alice, body: { decision: 'keep', reason: 'r' }, status: 409 },
  { name: 'narrow without scopes', method: 'POST', url: () => `/v1/partners/${active.partnerId}/recertifications`, token: () => t.alice, body: { decision: 'narrow', reason: 'r' }, status: 409 },
  { name: 'extension earlier than the end', method: 'POST', url: () => `/v1/partners/${active.partnerId}/extension`, token: () => active.requestToken, body: { accessUntil: '2001-01-01T00:00:00Z', reason: 'r' }, status: 422 },
  { name: 'offboarding after the end', method: 'POST', url: () => `/v1/partners/${active.partnerId}/offboarding`, token: () => active.requestToken, body: { at: '2099-01-01T00:00:00Z', reason: 'r' }, status: 422 },
  { name: 'revocation without reason', method: 'POST', url: () => `/v1/partners/${active.partnerId}/revocation`, token: () => t.sec, body: {}, status: 400, detail: /reason/ },
  { name: 'bulk revocation naming nothing', method: 'POST', url: () => '/v1/revocations', token: () => t.sec, body: { reason: 'r' }, status: 400 },
  { name: 'introspection without token', method: 'POST', url: () => '/v1/introspect', token: () => t.gw, body: {}, status: 400 },
  { name: 'rotation with the request token', method: 'POST', url: () => `/v1/partners/${active.partnerId}/credentials/rotate`, token: () => active.requestToken, status: 403 },
  { name: 'pickup before any key', method: 'POST', url: () => `/v1/partners/${pending.partnerId}/credentials/pickup`, token: () => pending.requestToken, status: 409 },
  // credentials
  { name: 'malformed bearer', method: 'GET', url: () => `/v1/partners/${active.partnerId}`, headers: { authorization: 'Bearer' }, status: 401 },
  { name: 'unknown operator token', method: 'GET', url: () => `/v1/partners/${active.partnerId}`, token: () => 'pat_nope', status: 401 },
  { name: 'bad-checksum key', method: 'GET', url: () => `/v1/partners/${active.partnerId}`, token: () => active.apiKey.slice(0, -1) + (active.apiKey.endsWith('0') ? '1' : '0'), status: 401 },
  // methods and paths
  { name: 'wrong method', method: 'DELETE', url: () => `/v1/partners/${active.partnerId}`, token: () => t.alice, status: 405 },
  { name: 'wrong method, no credentials: still 405', method: 'PATCH', url: () => `/v1/partners/${active.partnerId}/decisions`, status: 405 },
  { name: 'unknown path', method: 'GET', url: () => '/v1/nothing-here', token: () => t.alice, status: 404 },
];

describe('bad input: a clear 4xx, a problem body, nothing changed', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const before = await snapshot();
      const res = await stack.call(c.method, c.url(), { token: c.token?.(), body: c.body, headers: c.headers });
      expect(res.status, res.text).toBe(c.status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.json).toMatchObject({ status: c.status, title: expect.any(String) });
      expect(res.text).not.toMatch(/at .*\.ts:\d+|node_modules|Error:/); // no stack trace, no internals
      if (c.detail) expect(res.json.detail).toMatch(c.detail);
      if (c.status === 400 && res.json.issues) expect(res.json.issues.length).toBeGreaterThan(0);
      expect(await snapshot()).toEqual(before);
    });
  }

  it('405 names the allowed methods', async () => {
    const res = await stack.call('PUT', '/v1/partners', { token: t.alice, body: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
    expect(res.headers.get('allow')).toContain('POST');
  });
});

describe('every route with a JSON body, the same four mistakes', () => {
  const bodyRoutes: Array<{ name: string; url: () => string; token: () => string | undefined }> = [
    { name: 'POST /v1/partners', url: () => '/v1/partners', token: () => undefined },
    { name: 'POST /v1/partners/{id}/decisions', url: () => `/v1/partners/${pending.partnerId}/decisions`, token: () => t.alice },
    { name: 'POST /v1/partners/{id}/recertifications', url: () => `/v1/partners/${active.partnerId}/recertifications`, token: () => t.alice },
    { name: 'POST /v1/partners/{id}/extension', url: () => `/v1/partners/${active.partnerId}/extension`, token: () => active.requestToken },
    { name: 'POST /v1/partners/{id}/offboarding', url: () => `/v1/partners/${active.partnerId}/offboarding`, token: () => active.requestToken },
    { name: 'POST /v1/partners/{id}/revocation', url: () => `/v1/partners/${active.partnerId}/revocation`, token: () => t.sec },
    { name: 'POST /v1/revocations', url: () => '/v1/revocations', token: () => t.sec },
    { name: 'POST /v1/introspect', url: () => '/v1/introspect', token: () => t.gw },
  ];
  const mistakes: Array<{ name: string; body: unknown; headers?: Record<string, string>; status: number }> = [
    { name: 'empty object (missing fields)', body: {}, status: 400 },
    { name: 'unknown field', body: { surprise: true, reason: 'r', token: 'x', decision: 'keep', accessUntil: '2030-01-01' }, status: 400 },
    { name: 'oversized', body: { reason: longText }, status: 413 },
    { name: 'wrong content type', body: 'reason=r', headers: { 'content-type': 'text/plain' }, status: 415 },
  ];
  for (const route of bodyRoutes) {
    for (const mistake of mistakes) {
      it(`${route.name}: ${mistake.name} → ${mistake.status}`, async () => {
        const before = await snapshot();
        const res = await stack.call('POST', route.url(), { token: route.token(), body: mistake.body, headers: mistake.headers });
        expect(res.status, res.text).toBe(mistake.status);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(await snapshot()).toEqual(before);
      });
    }
  }
});

describe('Idempotency-Key', () => {
  it('same key and body → the same partner and response; another body → 422', async () => {
    const headers = { 'idempotency-key': `idem-${Date.now()}` };
    const first = await stack.call('POST', '/v1/partners', { body: baseSubmission, headers });
    expect(first.status).toBe(202);
    const before = await snapshot();
    const again = await stack.call('POST', '/v1/partners', { body: baseSubmission, headers });
    expect(again.status).toBe(202);
    expect(again.json).toEqual(first.json);
    const other = await stack.call('POST', '/v1/partners', { body: { ...baseSubmission, name: 'Other' }, headers });
    expect(other.status).toBe(422);
    expect(other.json.detail).toContain('Idempotency-Key');
    expect(await snapshot()).toEqual(before);
  });
});

describe('hygiene', () => {
  it('security headers, request id, CORS closed', async () => {
    const res = await stack.call('GET', '/healthz', { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBeTruthy();
    expect(res.headers.get('strict-transport-security')).toBeTruthy();
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('every log line of a request carries its request id; logs are JSON', async () => {
    const res = await stack.call('POST', '/v1/partners', { body: baseSubmission, headers: { 'x-request-id': 'req-trace-42' } });
    expect(res.headers.get('x-request-id')).toBe('req-trace-42');
    const lines = stack.logLines.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l));
    const mine = lines.filter((l) => l.requestId === 'req-trace-42').map((l) => l.msg);
    expect(mine).toEqual(expect.arrayContaining(['partner submitted', 'request']));
  });

  it('no response contains a key hash or another partner’s data', async () => {
    const hashes = (await stack.db.selectFrom('credentials').select('hash').execute()).map((r) => r.hash);
    const tokenHashes = (await stack.db.selectFrom('partners').select('request_token_hash').execute()).map((r) => r.request_token_hash);
    const bodies = [
      (await stack.call('GET', `/v1/partners/${active.partnerId}`, { token: active.apiKey })).text,
      (await stack.call('GET', `/v1/partners/${active.partnerId}/timeline`, { token: active.requestToken })).text,
      (await stack.call('GET', '/v1/partners?limit=200', { token: t.aud })).text,
      (await stack.call('GET', '/v1/audit', { token: t.aud })).text,
      (await stack.call('GET', '/v1/inbox', { token: t.alice })).text,
    ];
    for (const body of bodies) for (const h of [...hashes, ...tokenHashes]) expect(body.includes(h)).toBe(false);
    // the plaintext key appears only in the pickup and rotation responses
    for (const body of bodies) expect(body.includes(active.apiKey)).toBe(false);
    expect(bodies[0]!.includes(pending.partnerId)).toBe(false);
    expect(bodies[1]!.includes(pending.partnerId)).toBe(false);
  });

  it('anonymous onboarding, decisions and failed introspections are rate-limited', async () => {
    const limited = await startStack({ appOverrides: { limits: { onboardingPerMinute: 2, decisionsPerMinute: 2, introspectionFailuresPerMinute: 2 } } });
    try {
      const alice = await limited.operator('alice', ['approver']);
      const gw = await limited.operator('gw', ['gateway']);
      const first = await limited.call('POST', '/v1/partners', { body: baseSubmission });
      expect(first.status).toBe(202);
      expect((await limited.call('POST', '/v1/partners', { body: baseSubmission })).status).toBe(202);
      const third = await limited.call('POST', '/v1/partners', { body: baseSubmission });
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      // operators submitting on a partner's behalf (admins, approvers) are not the public budget
      const adm = await limited.operator('adm', ['admin']);
      expect((await limited.call('POST', '/v1/partners', { body: baseSubmission, token: adm })).status).toBe(202);

      const decide = () => limited.call('POST', `/v1/partners/${first.json.partnerId}/decisions`, { token: alice, body: { decision: 'approve', scopes: ['payments:write'], reason: 'x' } });
      expect((await decide()).status).toBe(422);
      expect((await decide()).status).toBe(422);
      expect((await decide()).status).toBe(429);

      const probe = () => limited.call('POST', '/v1/introspect', { token: gw, body: { token: 'pak_test_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB_000000' } });
      expect((await probe()).json).toEqual({ active: false, reason: 'bad_checksum' });
      expect((await probe()).status).toBe(200);
      expect((await probe()).status).toBe(429);
    } finally {
      await limited.stop();
    }
  });
});
