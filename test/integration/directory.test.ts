import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activePartner, decide, submit } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
const t: Record<string, string> = {};
const ids: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({ policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [] } });
  t.alice = await stack.operator('alice', ['approver']);
  t.bob = await stack.operator('bob', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.aud = await stack.operator('aud', ['auditor']);
  ids.a1 = (await activePartner(stack, { sponsor: t.alice! }, { scopes: ['orders:read'] })).partnerId;
  ids.a2 = (await submit(stack, { scopes: ['catalog:read', 'payments:read'] })).partnerId;
  ids.b1 = (await activePartner(stack, { sponsor: t.bob! }, { sponsor: 'bob', scopes: ['catalog:read'] })).partnerId;
  ids.b2 = (await submit(stack, { sponsor: 'bob', environment: 'production' })).partnerId;
  ids.b3 = (await submit(stack, { sponsor: 'bob', scopes: ['orders:read', 'reports:read'] })).partnerId;
  expect((await decide(stack, ids.b3, t.bob!, { decision: 'reject', reason: 'no' })).status).toBe(200);
});
afterAll(() => stack?.stop());

const list = async (token: string, query = '') => (await stack.call('GET', `/v1/partners${query}`, { token })).json as { items: { partnerId: string }[]; nextCursor: string | null };
const idsOf = (page: { items: { partnerId: string }[] }) => page.items.map((i) => i.partnerId).sort();

describe('GET /v1/partners', () => {
  it('auditors see everyone; approvers see what they sponsor', async () => {
    expect(idsOf(await list(t.aud!))).toEqual(Object.values(ids).sort());
    expect(idsOf(await list(t.alice!))).toEqual([ids.a1, ids.a2].sort());
    expect(idsOf(await list(t.bob!))).toEqual([ids.b1, ids.b2, ids.b3].sort());
  });

  it('filters by state, sponsor, environment and scope', async () => {
    expect(idsOf(await list(t.aud!, '?state=active'))).toEqual([ids.a1, ids.b1].sort());
    expect(idsOf(await list(t.aud!, '?sponsor=bob&state=pending_approval'))).toEqual([ids.b2]);
    expect(idsOf(await list(t.aud!, '?environment=production'))).toEqual([ids.b2]);
    expect(idsOf(await list(t.aud!, '?scope=catalog:read'))).toEqual([ids.a2, ids.b1].sort());
    expect(idsOf(await list(t.aud!, '?scope=orders:read&state=rejected'))).toEqual([ids.b3]);
    // a scope is matched whole: orders:rea is not orders:read
    expect(idsOf(await list(t.aud!, '?scope=orders:rea'))).toEqual([]);
  });

  it('pages with a cursor and never repeats or skips', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(t.aud!, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.partnerId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(Object.values(ids).sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('the inbox lists what waits on the caller', async () => {
    const bobInbox = (await stack.call('GET', '/v1/inbox', { token: t.bob })).json.items as { partnerId: string; kind: string }[];
    expect(bobInbox.map((i) => i.partnerId).sort()).toEqual([ids.b2]);
    const aliceInbox = (await stack.call('GET', '/v1/inbox', { token: t.alice })).json.items as { partnerId: string; kind: string; stage: string }[];
    expect(aliceInbox).toMatchObject([{ partnerId: ids.a2, kind: 'approval', stage: 'sponsor' }]);
    expect(((await stack.call('GET', '/v1/inbox', { token: t.sec })).json.items as unknown[]).length).toBe(0);
    await decide(stack, ids.a2!, t.alice!, { decision: 'approve' });
    const secInbox = (await stack.call('GET', '/v1/inbox', { token: t.sec })).json.items as { partnerId: string; stage: string }[];
    expect(secInbox).toMatchObject([{ partnerId: ids.a2, stage: 'security' }]);
  });
});
