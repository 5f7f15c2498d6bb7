import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

/** Whole journeys through HTTP calls only: what a partner, approvers and security actually do. */
let stack: Stack;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({ policyOverrides: { recertifyEvery: '4s', recertReminders: ['2s'], suspendedGrace: '30s', rotationOverlap: '2s' } });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('gw', ['gateway']);
  t.aud = await stack.operator('aud', ['auditor']);
});
afterAll(() => stack?.stop());

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 150));
  }
}
const view = async (id: string, token: string) => (await stack.call('GET', `/v1/partners/${id}`, { token })).json;
const stateIs = (id: string, token: string, state: string) => until(async () => ((await view(id, token)).state === state ? true : undefined));
const introspect = async (key: string) => (await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: key } })).json;

const submission = {
  name: 'Northwind Payments',
  contactEmail: 'api@northwind.example',
  sponsor: 'alice',
  environment: 'sandbox',
  scopes: ['orders:read', 'payments:read', 'reports:read'],
  justification: 'Reconcile payments against orders nightly',
};

describe('a partner’s whole life over HTTP', () => {
  it('submission → two approvals → pickup → rotation → recertification → offboarding', async () => {
    const sub = await stack.call('POST', '/v1/partners', { body: submission, headers: { 'idempotency-key': 'northwind-1' } });
    expect(sub.status).toBe(202);
    const { partnerId, requestToken } = sub.json;

    const inbox = await until(async () => {
      const items = (await stack.call('GET', '/v1/inbox', { token: t.alice })).json.items as { partnerId: string }[];
      return items.some((i) => i.partnerId === partnerId) ? items : undefined;
    });
    expect(inbox.find((i) => i.partnerId === partnerId)).toMatchObject({ kind: 'approval', stage: 'sponsor' });

    const first = await stack.call('POST', `/v1/partners/${partnerId}/decisions`, {
      token: t.alice,
      body: { decision: 'approve', scopes: ['orders:read', 'payments:read'], reason: 'reports not needed' },
    });
    expect(first.json).toMatchObject({ state: 'pending_approval', pendingStage: 'security' });
    const secInbox = (await stack.call('GET', '/v1/inbox', { token: t.sec })).json.items as { partnerId: string; stage: string }[];
    expect(secInbox.find((i) => i.partnerId === partnerId)?.stage).toBe('security');
    const second = await stack.call('POST', `/v1/partners/${partnerId}/decisions`, { token: t.sec, body: { decision: 'approve', reason: 'reviewed' } });
    expect(second.json).toMatchObject({ state: 'active' });

    const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
    expect(pickup.status).toBe(200);
    const key1 = pickup.json.apiKey as string;
    expect(await introspect(key1)).toMatchObject({ active: true, partnerId, environment: 'sandbox', scopes: ['orders:read', 'payments:read'] });

    const rotated = await stack.call('POST', `/v1/partners/${partnerId}/credentials/rotate`, { token: key1 });
    expect(rotated.status).toBe(200);
    const key2 = rotated.json.apiKey as string;
    expect((await introspect(key1)).active).toBe(true);
    await until(async () => ((await introspect(key1)).active === false ? true : undefined));
    // past its retirement time the old key is refused even before the workflow's timer revokes it
    expect(['expired', 'revoked']).toContain((await introspect(key1)).reason);
    expect((await introspect(key2)).active).toBe(true);

    await stateIs(partnerId, t.alice!, 'recertification_due');
    const narrowed = await stack.call('POST', `/v1/partners/${partnerId}/recertifications`, {
      token: t.alice,
      body: { decision: 'narrow', scopes: ['orders:read'], reason: 'payments moved to another partner' },
    });
    expect(narrowed.json).toMatchObject({ state: 'active' });
    expect((await introspect(key2)).scopes).toEqual(['orders:read']);

    const off = await stack.call('POST', `/v1/partners/${partnerId}/offboarding`, { token: key2, body: { reason: 'integration retired' } });
    expect(off.json).toMatchObject({ state: 'offboarded' });
    expect(await introspect(key2)).toEqual({ active: false, reason: 'revoked' });

    // the full audit view (actors) is an operator's; the partner's own view lists the same events
    const timeline = (await stack.call('GET', `/v1/partners/${partnerId}/timeline`, { token: t.aud })).json.events as { action: string; actor: string }[];
    const trail = timeline.map((e) => e.action);
    const own = (await stack.call('GET', `/v1/partners/${partnerId}/timeline`, { token: requestToken })).json.events as { action: string }[];
    expect(own.map((e) => e.action)).toEqual(trail);
    expect([...trail].sort()).toEqual(
      [
        'partner.submitted',
        'approval.granted',
        'approval.granted',
        'credential.issued',
        'partner.activated',
        'credential.picked_up',
        'credential.issued',
        'credential.rotated',
        'credential.picked_up',
        'credential.retired',
        'recertification.opened',
        'recertification.narrowed',
        'partner.offboarded',
      ].sort(),
    );
    // the retirement timer and the review opening race by design; everything else is ordered
    const at = (action: string) => trail.indexOf(action);
    expect(at('partner.submitted')).toBe(0);
    expect(at('credential.issued')).toBeLessThan(at('partner.activated'));
    expect(at('credential.rotated')).toBeLessThan(at('credential.retired'));
    expect(at('recertification.opened')).toBeLessThan(at('recertification.narrowed'));
    expect(trail.at(-1)).toBe('partner.offboarded');
    expect(timeline.every((e) => /^(operator|partner|system):/.test(e.actor) || e.actor === 'partner')).toBe(true);
    expect((await stack.call('GET', '/v1/audit/verify', { token: t.aud })).json).toMatchObject({ ok: true });
    const exported = (await stack.call('GET', `/v1/audit?partnerId=${partnerId}`, { token: t.aud })).text.trim().split('\n');
    expect(exported).toHaveLength(timeline.length);
  });

  it('rejection', async () => {
    const { partnerId, requestToken } = (await stack.call('POST', '/v1/partners', { body: { ...submission, scopes: ['orders:read'] } })).json;
    await until(async () => ((await view(partnerId, requestToken)).nextDeadline ? true : undefined));
    const res = await stack.call('POST', `/v1/partners/${partnerId}/decisions`, { token: t.alice, body: { decision: 'reject', reason: 'no contract' } });
    expect(res.json.state).toBe('rejected');
    expect(await view(partnerId, requestToken)).toMatchObject({ state: 'rejected', endReason: 'no contract', credentials: [] });
    expect((await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken })).status).toBe(409);
  });

  it('emergency revocation, single and bulk with a dry run', async () => {
    const make = async (scopes: string[]) => {
      const { partnerId, requestToken } = (await stack.call('POST', '/v1/partners', { body: { ...submission, scopes } })).json;
      await until(async () => ((await view(partnerId, requestToken)).nextDeadline ? true : undefined));
      await stack.call('POST', `/v1/partners/${partnerId}/decisions`, { token: t.alice, body: { decision: 'approve', reason: 'ok' } });
      const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
      return { partnerId, key: pickup.json.apiKey as string };
    };
    const a = await make(['catalog:read']);
    const b = await make(['catalog:read', 'orders:read']);
    const c = await make(['orders:read']);

    const single = await stack.call('POST', `/v1/partners/${c.partnerId}/revocation`, { token: t.sec, body: { reason: 'suspicious traffic' } });
    expect(single.status).toBe(202);
    expect(await introspect(c.key)).toEqual({ active: false, reason: 'revoked' });

    const dry = await stack.call('POST', '/v1/revocations', { token: t.sec, body: { scope: 'catalog:read', reason: 'catalog breach', dryRun: true } });
    expect(dry.json.partners.map((p: { partnerId: string }) => p.partnerId).sort()).toEqual([a.partnerId, b.partnerId].sort());
    expect((await introspect(a.key)).active).toBe(true);
    const real = await stack.call('POST', '/v1/revocations', { token: t.sec, body: { scope: 'catalog:read', reason: 'catalog breach' } });
    expect(real.json.partners.map((p: { partnerId: string }) => p.partnerId).sort()).toEqual([a.partnerId, b.partnerId].sort());
    expect((await introspect(a.key)).active).toBe(false);
    expect((await introspect(b.key)).active).toBe(false);
    for (const id of [a.partnerId, b.partnerId, c.partnerId]) {
      await until(async () => ((await stack.call('GET', `/v1/partners/${id}/timeline`, { token: t.aud })).json.events.at(-1).action === 'partner.revoked' ? true : undefined));
    }
  });
});
