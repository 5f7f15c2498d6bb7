import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actions, activePartner, decide, partnerRow, submit, waitForAction, waitForState } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

/**
 * Deadlines on a real server with second-long policy durations:
 * approval reminder 1s, escalation 2s, timeout 4s; review opens 2s before a due date 4s after
 * certification; 3s of suspension grace; keys overlap 2s on rotation.
 */
let stack: Stack;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: {
      approvalTimeout: '4s',
      approvalReminders: ['1s'],
      escalateAfter: '2s',
      recertifyEvery: '4s',
      recertReminders: ['2s', '1s'],
      suspendedGrace: '3s',
      rotationOverlap: '2s',
      expiryWarnings: ['3s'],
    },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.bob = await stack.operator('bob', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
});
afterAll(() => stack?.stop());

const notices = async (partnerId: string) =>
  (await stack.db.selectFrom('notifications').select(['kind', 'recipients']).where('partner_id', '=', partnerId).orderBy('created_at').execute()).map(
    (n) => `${n.kind} → ${JSON.parse(n.recipients).join(',')}`,
  );

describe.concurrent('approval deadlines', () => {
  it('reminds, escalates to alternates, and expires the request', async () => {
    const { partnerId } = await submit(stack);
    // bob is no alternate before escalation…
    expect((await decide(stack, partnerId, t.bob!, { decision: 'approve' })).status).toBe(404);
    const escalated = await waitForAction(stack, partnerId, 'approval.escalated');
    expect(escalated.actor).toBe('system:lifecycle');
    expect((await partnerRow(stack, partnerId)).escalated).toBe(1);
    const expired = await waitForState(stack, partnerId, 'request_expired');
    expect(expired.end_reason).toContain('approval timeout');
    await eventually(async () => (await notices(partnerId)).length === 4);
    expect(await notices(partnerId)).toEqual([
      'approval.requested → operator:alice',
      'approval.reminder → operator:alice',
      'approval.escalated → operator:alice,role:approver',
      'partner.request_expired → partner,operator:alice',
    ]);
    expect(await actions(stack, partnerId)).toEqual(['partner.submitted', 'approval.escalated', 'approval.expired']);
  });

  it('after escalation an alternate approver may decide stage 1', async () => {
    const { partnerId } = await submit(stack);
    await waitForAction(stack, partnerId, 'approval.escalated');
    const res = await decide(stack, partnerId, t.bob!, { decision: 'approve' });
    expect(res.status, res.text).toBe(200);
    expect(res.json.state).toBe('active');
  });
});

describe.concurrent('rotation', () => {
  it('issues a new key once; both work inside the overlap; the old one dies after it', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const rotate = await stack.call('POST', `/v1/partners/${p.partnerId}/credentials/rotate`, { token: p.apiKey });
    expect(rotate.status, rotate.text).toBe(200);
    const fresh = rotate.json.apiKey as string;
    expect(fresh).not.toBe(p.apiKey);
    expect(rotate.json.keyId).not.toBe(p.keyId);

    // Inside the overlap both keys authenticate.
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey })).status).toBe(200);
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: fresh })).status).toBe(200);
    // A second rotation during the overlap is refused; so is rotating with the retiring key.
    expect((await stack.call('POST', `/v1/partners/${p.partnerId}/credentials/rotate`, { token: fresh })).status).toBe(409);

    await waitForAction(stack, p.partnerId, 'credential.retired');
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey })).status).toBe(401);
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: fresh })).status).toBe(200);
    const keys = await stack.db.selectFrom('credentials').select(['key_id', 'status']).where('partner_id', '=', p.partnerId).orderBy('version').execute();
    expect(keys).toEqual([
      { key_id: p.keyId, status: 'revoked' },
      { key_id: rotate.json.keyId, status: 'active' },
    ]);
  });
});

describe.concurrent('recertification', () => {
  it('opens the review, reminds, and a keep starts the next cycle', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const due = await waitForState(stack, p.partnerId, 'recertification_due');
    expect(due.next_deadline_action).toContain('suspended');
    const early = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token: t.bob!, body: { decision: 'keep', reason: 'x' } });
    expect(early.status).toBe(404); // bob is not the sponsor
    const res = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, {
      token: t.alice!,
      body: { decision: 'keep', reason: 'still needed' },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.state).toBe('active');
    const row = await partnerRow(stack, p.partnerId);
    expect(row.recert_cycle).toBe(1);
    const recerts = await stack.db.selectFrom('recertifications').selectAll().where('partner_id', '=', p.partnerId).execute();
    expect(recerts).toHaveLength(1);
    expect(JSON.parse(recerts[0]!.evidence!).keys[0].keyId).toBe(p.keyId);
    expect((await notices(p.partnerId)).filter((n) => n.startsWith('recertification'))).toEqual([
      'recertification.due → operator:alice',
    ]);
    // An answer outside a review is refused: replaying it cannot skip the next cycle.
    const replay = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, {
      token: t.alice!,
      body: { decision: 'keep', reason: 'still needed' },
    });
    expect(replay.status).toBe(409);
  });

  it('narrow takes effect at once', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! }, { scopes: ['orders:read', 'catalog:read'] });
    await waitForState(stack, p.partnerId, 'recertification_due');
    const widen = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, {
      token: t.alice!,
      body: { decision: 'narrow', scopes: ['orders:read', 'payments:read'], reason: 'x' },
    });
    expect(widen.status).toBe(422);
    const res = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, {
      token: t.alice!,
      body: { decision: 'narrow', scopes: ['catalog:read'], reason: 'orders no longer used' },
    });
    expect(res.status, res.text).toBe(200);
    expect(JSON.parse((await partnerRow(stack, p.partnerId)).scopes)).toEqual(['catalog:read']);
  });

  it('no answer suspends (keys refused), a late keep reactivates', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await waitForState(stack, p.partnerId, 'suspended');
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey })).status).toBe(401);
    const keys = await stack.db.selectFrom('credentials').select('status').where('partner_id', '=', p.partnerId).execute();
    expect(keys).toEqual([{ status: 'active' }]); // disabled by state, not deleted
    const res = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token: t.alice!, body: { decision: 'keep', reason: 'back from leave' } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.state).toBe('active');
    await waitForAction(stack, p.partnerId, 'partner.reactivated');
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey })).status).toBe(200);
  });

  it('no answer within the grace offboards', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const row = await waitForState(stack, p.partnerId, 'offboarded');
    expect(row.end_reason).toContain('suspension grace');
    const keys = await stack.db.selectFrom('credentials').select(['status', 'revoke_reason']).where('partner_id', '=', p.partnerId).execute();
    expect(keys.every((k) => k.status === 'revoked')).toBe(true);
    const trail = await actions(stack, p.partnerId);
    expect(trail.slice(-3)).toEqual(['recertification.opened', 'partner.suspended', 'partner.offboarded']);
  });

  it('revoke at recertification ends in offboarded with that reason', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await waitForState(stack, p.partnerId, 'recertification_due');
    const res = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, {
      token: t.alice!,
      body: { decision: 'revoke', reason: 'project cancelled' },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.state).toBe('offboarded');
    expect((await partnerRow(stack, p.partnerId)).end_reason).toContain('project cancelled');
  });
});
