import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../domain/api-key.js';
import { actions, decide, partnerRow, submit, waitForAction, waitForState } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
const t: Record<string, string> = {};

beforeAll(async () => {
  // Generous approval timers here: the timeout test below has a file of its own timing.
  stack = await startStack({ policyOverrides: { approvalTimeout: '40s', escalateAfter: '30s', approvalReminders: ['20s'] } });
  t.alice = await stack.operator('alice', ['approver']);
  t.bob = await stack.operator('bob', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.sec2 = await stack.operator('sec2', ['security']);
  t.dual = await stack.operator('dual', ['approver', 'security']);
  t.carol = await stack.operator('carol', ['approver', 'security']);
});
afterAll(() => stack?.stop());

describe('approval', () => {
  it('one stage for low-risk sandbox scopes: sponsor approves → key issued → active', async () => {
    const { partnerId, requestToken } = await submit(stack);
    const res = await decide(stack, partnerId, t.alice!, { decision: 'approve' });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ partnerId, state: 'active', pendingStage: null });
    expect(res.json.keyId).toMatch(/^[0-9A-Za-z]{16}$/);

    const row = await partnerRow(stack, partnerId);
    expect(row.state).toBe('active');
    const keys = await stack.db.selectFrom('credentials').selectAll().where('partner_id', '=', partnerId).execute();
    expect(keys).toHaveLength(1);
    expect(keys[0]!.expires_at <= row.access_until).toBe(true);

    const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
    expect(pickup.status).toBe(200);
    expect(pickup.json.apiKey).toMatch(/^pak_test_/);
    expect(hashApiKey(pickup.json.apiKey)).toBe(keys[0]!.hash);
    expect(pickup.headers.get('cache-control')).toBe('no-store');
    const again = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
    expect(again.status).toBe(410);
    const sealed = await stack.db.selectFrom('credential_pickups').select('sealed').where('partner_id', '=', partnerId).execute();
    expect(sealed.every((p) => p.sealed === null)).toBe(true);

    // the pickup is evidence too: by the partner, naming the key id, once (the 410 wrote nothing)
    expect(await actions(stack, partnerId)).toEqual(['partner.submitted', 'approval.granted', 'credential.issued', 'partner.activated', 'credential.picked_up']);
    const pickedUp = await stack.db.selectFrom('audit_events').selectAll().where('partner_id', '=', partnerId).where('action', '=', 'credential.picked_up').executeTakeFirstOrThrow();
    expect(pickedUp.actor).toBe(`partner:${partnerId}`);
    expect(pickedUp.details).not.toContain('pak_');
    const decisions = await stack.db.selectFrom('decisions').selectAll().where('partner_id', '=', partnerId).execute();
    expect(decisions).toMatchObject([{ kind: 'approval', stage: 'sponsor', decision: 'approve', actor: 'operator:alice' }]);
    // the decision names the policy it was taken under, in the audit trail
    const granted = await stack.db.selectFrom('audit_events').select('details').where('partner_id', '=', partnerId).where('action', '=', 'approval.granted').executeTakeFirstOrThrow();
    expect(JSON.parse(granted.details!)).toMatchObject({ policyVersion: stack.policy.version });
  });

  it('two stages when a scope is high-risk: sponsor, then security; no key before both', async () => {
    const { partnerId } = await submit(stack, { scopes: ['orders:read', 'payments:read'] });
    const first = await decide(stack, partnerId, t.alice!, { decision: 'approve' });
    expect(first.json).toMatchObject({ state: 'pending_approval', pendingStage: 'security' });
    expect(await stack.db.selectFrom('credentials').select('key_id').where('partner_id', '=', partnerId).execute()).toHaveLength(0);

    // An approver without the security role cannot take stage 2.
    expect((await decide(stack, partnerId, t.bob!, { decision: 'approve' })).status).toBe(404);
    // The sponsor cannot decide again: its stage is decided.
    expect((await decide(stack, partnerId, t.alice!, { decision: 'approve' })).status).toBe(403);

    const second = await decide(stack, partnerId, t.sec!, { decision: 'approve' });
    expect(second.status, second.text).toBe(200);
    expect(second.json).toMatchObject({ state: 'active' });
    const decisions = await stack.db.selectFrom('decisions').select(['stage', 'actor']).where('partner_id', '=', partnerId).orderBy('id').execute();
    expect(decisions).toEqual([
      { stage: 'sponsor', actor: 'operator:alice' },
      { stage: 'security', actor: 'operator:sec' },
    ]);
    // A second decision on the decided request → 409.
    expect((await decide(stack, partnerId, t.sec2!, { decision: 'approve' })).status).toBe(409);
  });

  it('production always needs security approval, even for low-risk scopes', async () => {
    const { partnerId } = await submit(stack, { environment: 'production' });
    const first = await decide(stack, partnerId, t.alice!, { decision: 'approve' });
    expect(first.json).toMatchObject({ state: 'pending_approval', pendingStage: 'security' });
  });

  it('approvers may narrow scopes and shorten the end, never widen', async () => {
    const { partnerId } = await submit(stack, { scopes: ['orders:read', 'catalog:read', 'reports:read'] });
    const row = await partnerRow(stack, partnerId);
    const later = new Date(Date.parse(row.access_until) + 86_400_000).toISOString();
    const widen = await decide(stack, partnerId, t.alice!, { decision: 'approve', scopes: ['orders:read', 'payments:write'] });
    expect(widen.status).toBe(422);
    expect(widen.json.detail).toContain('payments:write');
    const longer = await decide(stack, partnerId, t.alice!, { decision: 'approve', accessUntil: later });
    expect(longer.status).toBe(422);
    expect((await partnerRow(stack, partnerId)).state).toBe('pending_approval');

    const shorter = new Date(Date.now() + 30 * 60_000).toISOString();
    const ok = await decide(stack, partnerId, t.alice!, { decision: 'approve', scopes: ['orders:read'], accessUntil: shorter });
    expect(ok.status, ok.text).toBe(200);
    const after = await partnerRow(stack, partnerId);
    expect(JSON.parse(after.scopes)).toEqual(['orders:read']);
    expect(after.access_until).toBe(shorter);
    const key = await stack.db.selectFrom('credentials').select('expires_at').where('partner_id', '=', partnerId).executeTakeFirstOrThrow();
    expect(key.expires_at).toBe(shorter);
  });

  it('the requester never approves; nobody approves two stages', async () => {
    // carol submits on the partner's behalf with alice as sponsor, then tries stage 2.
    const { partnerId } = await submit(stack, { scopes: ['payments:read'] }, t.carol);
    expect((await partnerRow(stack, partnerId)).requested_by).toBe('operator:carol');
    expect((await decide(stack, partnerId, t.alice!, { decision: 'approve' })).status).toBe(200);
    const self = await decide(stack, partnerId, t.carol!, { decision: 'approve' });
    expect(self.status).toBe(403);
    expect(self.json.detail).toContain('requester');

    // dual sponsors and approves stage 1, then cannot approve stage 2.
    const second = await submit(stack, { scopes: ['payments:read'], sponsor: 'dual' });
    expect((await decide(stack, second.partnerId, t.dual!, { decision: 'approve' })).status).toBe(200);
    const twice = await decide(stack, second.partnerId, t.dual!, { decision: 'approve' });
    expect(twice.status).toBe(403);
    expect(twice.json.detail).toContain('two stages');
    expect((await partnerRow(stack, second.partnerId)).state).toBe('pending_approval');
  });

  it('the workflow validator refuses a self-approval even when the API check is bypassed', async () => {
    const { partnerId } = await submit(stack, {}, t.carol);
    const handle = stack.client.workflow.getHandle(`partner-${partnerId}`);
    const { decideUpdate } = await import('../../workflows/messages.js');
    await expect(
      handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', reason: 'mine', actor: { kind: 'operator', name: 'carol', roles: ['approver'] } }] }),
    ).rejects.toMatchObject({ cause: { type: 'ForbiddenActor' } });
    // Rejected in the validator: nothing reached history beyond the submission.
    expect(await actions(stack, partnerId)).toEqual(['partner.submitted']);
  });

  it('reject ends the request with the reason', async () => {
    const { partnerId, requestToken } = await submit(stack);
    const res = await decide(stack, partnerId, t.alice!, { decision: 'reject', reason: 'no business case' });
    expect(res.json).toMatchObject({ state: 'rejected' });
    const row = await waitForState(stack, partnerId, 'rejected');
    expect(row.end_reason).toBe('no business case');
    const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
    expect(pickup.status).toBe(409);
    const late = await decide(stack, partnerId, t.alice!, { decision: 'approve' });
    expect(late.status).toBe(409);
    await waitForAction(stack, partnerId, 'approval.rejected');
  });
});
