import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activePartner, submit } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * API5 (function-level) and API1 (object-level) authorization: every route × every kind of
 * caller. A caller not listed as allowed must get 401 (no credentials) or 403/404 (wrong role,
 * not theirs). API9: every route of the OpenAPI document is in this table.
 */
type Caller = 'none' | 'sponsor' | 'approver' | 'security' | 'auditor' | 'admin' | 'gateway' | 'ownToken' | 'ownKey' | 'otherToken' | 'otherKey';
const callers: Caller[] = ['none', 'sponsor', 'approver', 'security', 'auditor', 'admin', 'gateway', 'ownToken', 'ownKey', 'otherToken', 'otherKey'];

interface Target {
  partnerId: string;
  requestToken: string;
  apiKey: string;
}
interface RouteCase {
  method: string;
  /** OpenAPI path template */
  path: string;
  body?: (t: Target) => unknown;
  /** which partner the route is called on: the shared active one, or a fresh one per allowed call (destructive routes) */
  fresh?: boolean;
  /** what `{id}` stands for when it is not the partner's id */
  id?: (t: Target) => string;
  allowed: Partial<Record<Caller, number[]>>;
}

const farFuture = '2099-01-01T00:00:00Z';
const past = '2001-01-01T00:00:00Z';
const routes: RouteCase[] = [
  { method: 'GET', path: '/healthz', allowed: Object.fromEntries(callers.map((c) => [c, [200]])) },
  { method: 'GET', path: '/readyz', allowed: Object.fromEntries(callers.map((c) => [c, [200]])) },
  { method: 'GET', path: '/openapi.json', allowed: Object.fromEntries(callers.map((c) => [c, [200]])) },
  { method: 'GET', path: '/docs', allowed: Object.fromEntries(callers.map((c) => [c, [200]])) },
  {
    method: 'POST',
    path: '/v1/partners',
    body: () => ({ name: 'N', contactEmail: 'n@example.com', sponsor: 'alice', environment: 'sandbox', scopes: ['orders:read'], justification: 'j' }),
    // alice may not submit with herself as sponsor: the requester never approves. On a partner's
    // behalf only approvers and admins submit (api/submissions.ts submitterOf).
    allowed: { none: [202], sponsor: [422], approver: [202], admin: [202] },
  },
  { method: 'GET', path: '/v1/partners', allowed: { sponsor: [200], approver: [200], security: [200], auditor: [200], admin: [200] } },
  { method: 'GET', path: '/v1/partners/{id}', allowed: { sponsor: [200], security: [200], auditor: [200], admin: [200], ownToken: [200], ownKey: [200] } },
  { method: 'GET', path: '/v1/partners/{id}/timeline', allowed: { sponsor: [200], security: [200], auditor: [200], admin: [200], ownToken: [200], ownKey: [200] } },
  { method: 'POST', path: '/v1/partners/{id}/decisions', body: () => ({ decision: 'approve', reason: 'r' }), allowed: { sponsor: [409], security: [409] } },
  { method: 'POST', path: '/v1/partners/{id}/recertifications', body: () => ({ decision: 'keep', reason: 'r' }), allowed: { sponsor: [409], security: [409] } },
  { method: 'POST', path: '/v1/partners/{id}/extension', body: () => ({ accessUntil: past, reason: 'r' }), allowed: { ownToken: [422], ownKey: [422] } },
  {
    method: 'POST',
    path: '/v1/partners/{id}/offboarding',
    body: () => ({ at: farFuture, reason: 'r' }),
    allowed: { sponsor: [422], admin: [422], ownToken: [422], ownKey: [422] },
  },
  { method: 'POST', path: '/v1/partners/{id}/revocation', body: () => ({ reason: 'r' }), fresh: true, allowed: { security: [202] } },
  { method: 'POST', path: '/v1/revocations', body: () => ({ scope: 'reports:read', reason: 'r', dryRun: true }), allowed: { security: [200] } },
  // governance (issue #16): suspension and hand-over change the partner, so each allowed call gets its own
  { method: 'POST', path: '/v1/partners/{id}/suspension', body: () => ({ reason: 'r' }), fresh: true, allowed: { security: [200] } },
  { method: 'POST', path: '/v1/partners/{id}/resumption', body: () => ({ reason: 'r' }), allowed: { security: [409] } },
  { method: 'DELETE', path: '/v1/partners/{id}/suspension', body: () => ({ reason: 'r' }), allowed: { security: [409] } },
  { method: 'POST', path: '/v1/partners/{id}/sponsor', body: () => ({ sponsor: 'bob', reason: 'r' }), fresh: true, allowed: { security: [200], admin: [200] } },
  // the fast policy has one tier: setting it again is a 422 (and changes nothing)
  { method: 'POST', path: '/v1/partners/{id}/rate-tier', body: () => ({ tier: 'standard', reason: 'r' }), allowed: { security: [422], admin: [422] } },
  // activePartner() has picked the key up already: the owner's second pickup is the 410
  { method: 'POST', path: '/v1/partners/{id}/credentials/pickup', allowed: { ownToken: [410] } },
  { method: 'POST', path: '/v1/partners/{id}/credentials/rotate', fresh: true, allowed: { ownKey: [200] } },
  { method: 'POST', path: '/v1/introspect', body: (t) => ({ token: t.apiKey }), allowed: { gateway: [200] } },
  // without an X-Partner-Key the gateway's question is answered 401; the nginx tests cover the rest
  { method: 'GET', path: '/v1/gateway/auth', allowed: { gateway: [401] } },
  // the edge mode's (issue #14): a miss without a key is 401; the feed without a cursor answers at once
  { method: 'GET', path: '/v1/gateway/verdict', allowed: { gateway: [401] } },
  { method: 'GET', path: '/v1/gateway/changes', allowed: { gateway: [200] } },
  { method: 'POST', path: '/v1/gateway/usage', body: () => ({ uses: [] }), allowed: { gateway: [204] } },
  { method: 'GET', path: '/v1/inbox', allowed: { sponsor: [200], approver: [200], security: [200] } },
  { method: 'GET', path: '/v1/audit', allowed: { security: [200], auditor: [200], admin: [200] } },
  { method: 'GET', path: '/v1/audit/verify', allowed: { security: [200], auditor: [200], admin: [200] } },
  // governance reports, the notice outbox and erasure (issue #16): the shared partner's first notice
  // was never dead (409), and a live partner is not erased (409)
  { method: 'GET', path: '/v1/governance/drift', allowed: { security: [200], auditor: [200], admin: [200] } },
  { method: 'GET', path: '/v1/notifications/dead-letters', allowed: { security: [200], auditor: [200], admin: [200] } },
  { method: 'POST', path: '/v1/notifications/{id}/redelivery', id: (t) => `${t.partnerId}:n1`, body: () => ({ reason: 'r' }), allowed: { security: [409], admin: [409] } },
  { method: 'POST', path: '/v1/partners/{id}/erasure', body: () => ({ reason: 'r' }), allowed: { admin: [409] } },
  // operator identities (issue #16): {name} is an operator nobody created, so nothing is changed
  { method: 'POST', path: '/v1/operators', body: () => ({ name: `made-${crypto.randomUUID().slice(0, 8)}`, roles: ['auditor'], reason: 'matrix' }), allowed: { admin: [201] } },
  { method: 'GET', path: '/v1/operators', allowed: { auditor: [200], admin: [200] } },
  { method: 'POST', path: '/v1/operators/{name}/rotation', body: () => ({ reason: 'r' }), allowed: { admin: [404] } },
  { method: 'POST', path: '/v1/operators/{name}/revocation', body: () => ({ reason: 'r' }), allowed: { admin: [404] } },
];

let stack: Stack;
const tokens: Partial<Record<Caller, string>> = {};
let shared: Target;
let other: Target;

beforeAll(async () => {
  stack = await startStack({ policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [] } });
  tokens.sponsor = await stack.operator('alice', ['approver']);
  tokens.approver = await stack.operator('bob', ['approver']);
  tokens.security = await stack.operator('sec', ['security']);
  tokens.auditor = await stack.operator('aud', ['auditor']);
  tokens.admin = await stack.operator('root', ['admin']);
  tokens.gateway = await stack.operator('gw', ['gateway']);
  shared = await activePartner(stack, { sponsor: tokens.sponsor! });
  other = await activePartner(stack, { sponsor: tokens.approver! }, { sponsor: 'bob' });
}, 120_000);
afterAll(() => stack?.stop());

function tokenFor(caller: Caller, target: Target): string | undefined {
  switch (caller) {
    case 'none':
      return undefined;
    case 'ownToken':
      return target.requestToken;
    case 'ownKey':
      return target.apiKey;
    case 'otherToken':
      return other.requestToken;
    case 'otherKey':
      return other.apiKey;
    default:
      return tokens[caller];
  }
}

describe('role × route matrix', () => {
  for (const route of routes) {
    it(`${route.method} ${route.path}`, async () => {
      for (const caller of callers) {
        const target = route.fresh && route.allowed[caller] ? await activePartner(stack, { sponsor: tokens.sponsor! }) : shared;
        const url = route.path.replace('{id}', route.id?.(target) ?? target.partnerId).replace('{name}', 'nobody');
        const res = await stack.call(route.method, url, { token: tokenFor(caller, target), body: route.body?.(target) });
        const expected = route.allowed[caller];
        if (expected) {
          expect(expected, `${caller} → ${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
        } else if (caller === 'none') {
          expect(res.status, `${caller} → ${res.text.slice(0, 200)}`).toBe(401);
        } else {
          expect([403, 404], `${caller} → ${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
        }
        if (res.status >= 400) expect(res.headers.get('content-type')).toContain('application/problem+json');
      }
    });
  }

  it('covers every route in the OpenAPI document (API9)', async () => {
    const doc = (await stack.call('GET', '/openapi.json')).json as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const tested = routes.map((r) => `${r.method} ${r.path}`).filter((r) => !['GET /openapi.json', 'GET /docs'].includes(r));
    expect(new Set(documented)).toEqual(new Set(tested));
  });

  it('every /v1 operation documents the answers authentication can give: 401 and 429 (failed-credential budget)', async () => {
    const doc = (await stack.call('GET', '/openapi.json')).json as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const v1 = Object.entries(doc.paths).filter(([path]) => path.startsWith('/v1/'));
    expect(v1.length).toBeGreaterThan(10);
    for (const [path, ops] of v1) {
      for (const [method, op] of Object.entries(ops)) expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '429']));
    }
  });

  it('a partner key never opens an operator route (NHI10)', async () => {
    for (const path of ['/v1/partners', '/v1/inbox', '/v1/audit', '/v1/audit/verify']) {
      const res = await stack.call('GET', path, { token: shared.apiKey });
      expect(res.status, path).toBe(403);
    }
    expect((await stack.call('POST', '/v1/introspect', { token: shared.apiKey, body: { token: shared.apiKey } })).status).toBe(403);
    expect((await stack.call('POST', '/v1/revocations', { token: shared.apiKey, body: { scope: 'orders:read', reason: 'x', dryRun: true } })).status).toBe(403);
  });

  it('keys in the query string are ignored (NHI4): headers only', async () => {
    const res = await stack.call('GET', `/v1/partners/${shared.partnerId}?api_key=${encodeURIComponent(shared.apiKey)}&token=${shared.apiKey}`);
    expect(res.status).toBe(401);
  });

  it('a pending partner’s request is visible to escalation alternates only after escalation', async () => {
    const { partnerId } = await submit(stack);
    expect((await stack.call('GET', `/v1/partners/${partnerId}`, { token: tokens.approver })).status).toBe(404);
    expect((await stack.call('GET', `/v1/partners/${partnerId}`, { token: tokens.sponsor })).status).toBe(200);
  });
});
