import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actions, activePartner, decide, partnerRow, submit, waitForAction, waitForState } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: { recertifyEvery: '5s', recertReminders: ['3s'], suspendedGrace: '30s', maxAccess: '1 hour', expiryWarnings: ['2s'] },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.admin = await stack.operator('root', ['admin']);
  t.sec2 = await stack.operator('sec2', ['security']);
  t.gw = await stack.operator('gw', ['gateway']);
});
afterAll(() => stack?.stop());

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

describe.concurrent('end date, extension and planned offboarding', () => {
  it('the access end is a durable timer: warning, then offboarded, keys dead', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! }, { accessUntil: inSeconds(4) });
    const row = await waitForState(stack, p.partnerId, 'offboarded');
    expect(row.end_reason).toBe('access end date reached');
    const kinds = (await stack.db.selectFrom('notifications').select('kind').where('partner_id', '=', p.partnerId).execute()).map((n) => n.kind);
    expect(kinds).toContain('access.expiry_warning');
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey })).status).toBe(401);
  });

  it('an extension goes to the sponsor; approved, the end and the keys move', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! }, { accessUntil: inSeconds(60) });
    const target = inSeconds(1800);
    const beyond = await stack.call('POST', `/v1/partners/${p.partnerId}/extension`, {
      token: p.requestToken,
      body: { accessUntil: inSeconds(7200), reason: 'too far' },
    });
    expect(beyond.status).toBe(422); // beyond maxAccess
    const ask = await stack.call('POST', `/v1/partners/${p.partnerId}/extension`, { token: p.requestToken, body: { accessUntil: target, reason: 'phase 2' } });
    expect(ask.status, ask.text).toBe(200);
    expect(JSON.parse((await partnerRow(stack, p.partnerId)).pending_extension!).accessUntil).toBe(target);
    const other = await stack.call('POST', `/v1/partners/${p.partnerId}/decisions`, { token: t.sec!, body: { decision: 'approve', reason: 'x' } });
    expect(other.status).toBe(403); // only the sponsor decides an extension
    const ok = await decide(stack, p.partnerId, t.alice!, { decision: 'approve', reason: 'phase 2 agreed' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.accessUntil).toBe(target);
    const row = await partnerRow(stack, p.partnerId);
    expect(row.access_until).toBe(target);
    expect(row.pending_extension).toBeNull();
    const key = await stack.db.selectFrom('credentials').select('expires_at').where('key_id', '=', p.keyId).executeTakeFirstOrThrow();
    expect(key.expires_at).toBe(target);
    const decisions = await stack.db.selectFrom('decisions').select(['kind', 'decision']).where('partner_id', '=', p.partnerId).execute();
    expect(decisions).toContainEqual({ kind: 'extension', decision: 'approve' });
  });

  it('an extension refused leaves the end where it was', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! }, { accessUntil: inSeconds(60) });
    const before = (await partnerRow(stack, p.partnerId)).access_until;
    expect((await stack.call('POST', `/v1/partners/${p.partnerId}/extension`, { token: p.apiKey, body: { accessUntil: inSeconds(900), reason: 'more' } })).status).toBe(200);
    const no = await decide(stack, p.partnerId, t.alice!, { decision: 'reject', reason: 'not this quarter' });
    expect(no.status, no.text).toBe(200);
    const row = await partnerRow(stack, p.partnerId);
    expect(row.access_until).toBe(before);
    expect(row.pending_extension).toBeNull();
    await waitForAction(stack, p.partnerId, 'extension.rejected');
  });

  it('planned offboarding at a date, with its reason', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const late = await stack.call('POST', `/v1/partners/${p.partnerId}/offboarding`, { token: p.requestToken, body: { at: inSeconds(7200), reason: 'x' } });
    expect(late.status).toBe(422);
    const plan = await stack.call('POST', `/v1/partners/${p.partnerId}/offboarding`, { token: t.alice!, body: { at: inSeconds(2), reason: 'contract ends' } });
    expect(plan.status, plan.text).toBe(200);
    expect(JSON.parse((await partnerRow(stack, p.partnerId)).planned_offboarding!)).toMatchObject({ reason: 'contract ends', by: 'operator:alice' });
    const row = await waitForState(stack, p.partnerId, 'offboarded');
    expect(row.end_reason).toBe('contract ends');
  });

  it('immediate offboarding by an admin', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const res = await stack.call('POST', `/v1/partners/${p.partnerId}/offboarding`, { token: t.admin!, body: { reason: 'partner asked by phone' } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.state).toBe('offboarded');
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey })).status).toBe(401);
  });
});

describe.concurrent('emergency revocation from every non-terminal state', () => {
  const revoke = (partnerId: string, token = t.sec!) =>
    stack.call('POST', `/v1/partners/${partnerId}/revocation`, { token, body: { reason: 'key leaked on a public repo' } });

  async function expectRevoked(partnerId: string) {
    const row = await waitForState(stack, partnerId, 'revoked');
    expect(row.end_reason).toBe('key leaked on a public repo');
    const keys = await stack.db.selectFrom('credentials').select('status').where('partner_id', '=', partnerId).execute();
    expect(keys.every((k) => k.status === 'revoked')).toBe(true);
    await waitForAction(stack, partnerId, 'partner.revoked');
    const result = await stack.client.workflow.getHandle(`partner-${partnerId}`).result();
    expect(result).toEqual({ state: 'revoked', reason: 'key leaked on a public repo' });
    const trail = await actions(stack, partnerId);
    expect(trail).toContain('partner.revocation_requested');
    expect(trail.at(-1)).toBe('partner.revoked');
  }

  it('pending_approval', async () => {
    const { partnerId } = await submit(stack);
    expect((await revoke(partnerId, t.alice)).status).toBe(403); // approvers cannot
    const res = await revoke(partnerId);
    expect(res.status, res.text).toBe(202);
    expect(res.json).toMatchObject({ state: 'revoked', keysRevoked: 0, workflowSignalled: true });
    await expectRevoked(partnerId);
    expect((await decide(stack, partnerId, t.alice!, { decision: 'approve' })).status).toBe(409);
  });

  it('active: the key is dead in the same request', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const res = await revoke(p.partnerId);
    expect(res.json.keysRevoked).toBe(1);
    expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey })).status).toBe(401);
    await expectRevoked(p.partnerId);
    expect((await revoke(p.partnerId)).status).toBe(409);
  });

  it('recertification_due', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await waitForState(stack, p.partnerId, 'recertification_due');
    expect((await revoke(p.partnerId)).status).toBe(202);
    await expectRevoked(p.partnerId);
  });

  it('suspended', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await waitForState(stack, p.partnerId, 'suspended');
    expect((await revoke(p.partnerId)).status).toBe(202);
    await expectRevoked(p.partnerId);
  });

});

describe('revocation with the worker down', () => {
  it('the key dies in the request; the workflow ends in revoked once a worker is back', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await stack.stopWorker();
    try {
      const res = await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec!, body: { reason: 'key leaked on a public repo' } });
      expect(res.status).toBe(202);
      expect(res.json.workflowSignalled).toBe(true); // Temporal holds the signal for the absent worker
      const after202 = performance.now();
      expect((await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: p.apiKey } })).json).toEqual({ active: false, reason: 'revoked' });
      expect(performance.now() - after202).toBeLessThan(1000);
      const key = await stack.db.selectFrom('credentials').select('status').where('key_id', '=', p.keyId).executeTakeFirstOrThrow();
      expect(key.status).toBe('revoked');
      expect((await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey })).status).toBe(401);
      expect((await partnerRow(stack, p.partnerId)).state).toBe('revoked');
    } finally {
      await stack.startWorker();
    }
    await waitForAction(stack, p.partnerId, 'partner.revoked');
    const result = await stack.client.workflow.getHandle(`partner-${p.partnerId}`).result();
    expect(result.state).toBe('revoked');
  });
});

describe('noAnswer = offboard', () => {
  it('an unanswered recertification offboards at the due date without a suspension', async () => {
    const raw = JSON.parse(fs.readFileSync(stack.policyFile, 'utf8'));
    raw.environments.production.noAnswer = 'offboard';
    fs.writeFileSync(stack.policyFile, JSON.stringify(raw));
    const p = await activePartner(stack, { sponsor: t.alice!, security: t.sec2! }, { environment: 'production' });
    const row = await waitForState(stack, p.partnerId, 'offboarded');
    expect(row.end_reason).toBe('recertification not answered');
    expect(await actions(stack, p.partnerId)).not.toContain('partner.suspended');
  });
});
