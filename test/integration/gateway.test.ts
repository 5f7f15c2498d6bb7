import fs from 'node:fs';
import { freePort } from '../../runtime/dev-server.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayFor } from '../helpers/gateway.js';
import { activePartner, partnerRow, waitForAction } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Through a real nginx (auth_request) in front of a sample upstream, with the API on a real
 * loopback port. gateway/routes.json: GET /orders/ needs orders:read, GET /payments/ needs
 * payments:read, the gateway serves sandbox.
 */
let stack: Stack;
let edge: Awaited<ReturnType<typeof startGatewayFor>>;
let upstream: typeof edge.upstream;
let gateway: typeof edge.gateway;
const t: Record<string, string> = {};
const probeSecret = 'probe-secret-for-tests-0123456789abcdef';

beforeAll(async () => {
  const gatewayPort = await freePort();
  stack = await startStack({
    policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], rateLimitTiers: { standard: { requests: 5, window: '10s' } } },
    gatewayProbe: { url: `http://127.0.0.1:${gatewayPort}/orders/`, secret: probeSecret },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('edge', ['gateway']);
  edge = await startGatewayFor(stack, t.gw!, gatewayPort);
  ({ upstream, gateway } = edge);
}, 60_000);
afterAll(async () => {
  await edge?.stop();
  await stack?.stop();
});

const get = (route: string, headers: Record<string, string> = {}) => fetch(`${gateway.url}${route}`, { headers });
const withKey = (key: string) => ({ 'x-api-key': key });

describe('nginx auth_request in front of the upstream', () => {
  it('a valid key reaches the upstream with the partner headers, and without its key headers', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    for (const headers of [withKey(p.apiKey), { authorization: `Bearer ${p.apiKey}` }]) {
      const res = await get('/orders/42', { ...headers, 'x-partner-id': 'someone-else' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        method: 'GET',
        path: '/orders/42',
        target: '/orders/42',
        resource: 'orders',
        partnerId: p.partnerId,
        scopes: 'orders:read',
        keyHeadersReceived: false,
      });
    }
  });

  it('unknown, malformed, bad-checksum, expired, suspended, revoked and wrong-environment keys: 401', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const expired = await activePartner(stack, { sponsor: t.alice! });
    await stack.db.updateTable('credentials').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('key_id', '=', expired.keyId).execute();
    const suspended = await activePartner(stack, { sponsor: t.alice! });
    await stack.db.updateTable('partners').set({ state: 'suspended' }).where('id', '=', suspended.partnerId).execute();
    const production = await activePartner(stack, { sponsor: t.alice!, security: t.sec! }, { environment: 'production' });
    const cases: Record<string, Record<string, string>> = {
      missing: {},
      unknown: withKey('pak_test_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB_000000'),
      malformed: withKey('hello'),
      badChecksum: withKey(p.apiKey.slice(0, -1) + (p.apiKey.endsWith('A') ? 'B' : 'A')),
      expired: withKey(expired.apiKey),
      suspended: withKey(suspended.apiKey),
      wrongEnvironment: withKey(production.apiKey),
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await get('/orders/1', headers);
      expect(res.status, name).toBe(401);
      expect(res.headers.get('www-authenticate'), name).toContain('Bearer');
    }
    expect((await get('/orders/1', withKey(p.apiKey))).status).toBe(200);
    const revoked = await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'leak' } });
    expect(revoked.status).toBe(202);
    // the very next request after the 202 is refused: no cache anywhere
    expect((await get('/orders/1', withKey(p.apiKey))).status).toBe(401);
  });

  it('a key without the route’s scope: 403; a route no scope maps: 403', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! }, { scopes: ['catalog:read'] });
    expect((await get('/catalog/items', withKey(p.apiKey))).status).toBe(200);
    expect((await get('/orders/1', withKey(p.apiKey))).status).toBe(403);
    expect((await get('/admin/secrets', withKey(p.apiKey))).status).toBe(403);
  });

  it('a partner over its tier: 429 with Retry-After', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const res = await get('/orders/1', withKey(p.apiKey));
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // another partner has a budget of its own
    const other = await activePartner(stack, { sponsor: t.alice! });
    expect((await get('/orders/1', withKey(other.apiKey))).status).toBe(200);
  });

  it('verified revocation: the workflow probes the gateway and records that every key is refused', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'incident' } });
    const event = await waitForAction(stack, p.partnerId, 'revocation.verified');
    // refused with 401 (the reason stays in the gateway's log, clients never see it)
    expect(JSON.parse(event.details!).keys).toMatchObject([{ keyId: p.keyId, status: 401 }]);
    expect(fs.readFileSync(path.join(stack.dir, 'gateway', 'access.log'), 'utf8')).toContain('reason=revoked');
    expect((await partnerRow(stack, p.partnerId)).state).toBe('revoked');
    // a probe never passes, even for a live key
    const live = await activePartner(stack, { sponsor: t.alice! });
    const { createProbeToken } = await import('../../domain/probe-token.js');
    const res = await get('/orders/1', withKey(createProbeToken(probeSecret, live.keyId)));
    expect(res.status).toBe(403);
    expect(fs.readFileSync(path.join(stack.dir, 'gateway', 'access.log'), 'utf8')).not.toContain(live.apiKey);
  });
});

describe('verified revocation when the gateway does not refuse', () => {
  it('records the failure and alerts security', async () => {
    // a "gateway" that lets everything through: the sample upstream itself
    const leaky = await startStack({
      policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'] },
      gatewayProbe: { url: `http://127.0.0.1:${upstream.port}/orders/`, secret: probeSecret },
    });
    try {
      const alice = await leaky.operator('alice', ['approver']);
      const sec = await leaky.operator('sec', ['security']);
      const p = await activePartner(leaky, { sponsor: alice });
      await leaky.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: sec, body: { reason: 'incident' } });
      const event = await waitForAction(leaky, p.partnerId, 'revocation.verification_failed');
      expect(JSON.parse(event.details!).keys).toMatchObject([{ keyId: p.keyId, status: 200 }]);
      const { eventually } = await import('../helpers/stack.js');
      const alert = await eventually(() =>
        leaky.db.selectFrom('notifications').selectAll().where('partner_id', '=', p.partnerId).where('kind', '=', 'revocation.verification_failed').executeTakeFirst(),
      );
      expect(JSON.parse(alert.recipients)).toEqual(['role:security']);
    } finally {
      await leaky.stop();
    }
  });
});
