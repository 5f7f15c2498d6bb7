/**
 * Governance over the workflow (issue #16): security's reversible suspension, the sponsor
 * hand-over (and the revocation of a sponsor), against a real stack: dev server, worker, database,
 * the HTTP app.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actions, activePartner, decide, partnerRow, submit, waitForState } from '../helpers/partners.js';
import { fastPolicyFile, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
const t = {} as Record<'alice' | 'bob' | 'carol' | 'erin' | 'sec' | 'root' | 'aud' | 'gw', string>;

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: {
      ...quietTimers,
      rateLimitTiers: { standard: { requests: 5, window: '2s' }, elevated: { requests: 50, window: '2s' }, restricted: { requests: 1, window: '2s' } },
      approverRateLimitTiers: ['standard', 'elevated'],
    },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.bob = await stack.operator('bob', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.root = await stack.operator('root', ['admin']);
  t.aud = await stack.operator('aud', ['auditor']);
  t.gw = await stack.operator('gw', ['gateway']);
}, 120_000);
afterAll(() => stack?.stop());
// No review opens during a test (the suspension grace stays the fast policy's 4 s).
const quietTimers = { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [] };

const introspect = async (apiKey: string) => (await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: apiKey } })).json;
const feedHead = async () => (await stack.call('GET', '/v1/gateway/changes', { token: t.gw })).json.cursor as number;
const feedSince = async (cursor: number, partnerId: string) =>
  ((await stack.call('GET', `/v1/gateway/changes?after=${cursor}&wait=0`, { token: t.gw })).json.changes as { partnerId: string; kind: string }[])
    .filter((c) => c.partnerId === partnerId)
    .map((c) => c.kind);
const auditOf = (partnerId: string, action: string) =>
  stack.db.selectFrom('audit_events').select(['actor', 'reason', 'details', 'before', 'after']).where('partner_id', '=', partnerId).where('action', '=', action).orderBy('seq').execute();
const suspend = (id: string, token: string, reason = 'key seen in a public repository') => stack.call('POST', `/v1/partners/${id}/suspension`, { token, body: { reason } });
const resume = (id: string, token: string, reason = 'key rotated by the partner') => stack.call('POST', `/v1/partners/${id}/resumption`, { token, body: { reason } });

describe('suspension by security (item 4)', () => {
  it('refuses the keys at once (introspection and the edge change feed), runs no grace countdown, and resumes to where it was', async () => {
    const p = await activePartner(stack, { sponsor: t.alice });
    expect(await introspect(p.apiKey)).toMatchObject({ active: true });
    const cursor = await feedHead();

    const suspended = await suspend(p.partnerId, t.sec);
    expect(suspended.status, suspended.text).toBe(200);
    expect(suspended.json).toMatchObject({ state: 'suspended' });
    // answered after the transition committed: the key is refused by the time the caller hears back
    expect(await introspect(p.apiKey)).toEqual({ active: false, reason: 'suspended' });
    expect(await feedSince(cursor, p.partnerId)).toContain('partner.state');
    expect(await auditOf(p.partnerId, 'partner.suspended')).toMatchObject([
      { actor: 'operator:sec', reason: 'key seen in a public repository', before: 'active', after: 'suspended' },
    ]);
    // keys kept, not revoked: suspension is not a revocation
    const keys = await stack.db.selectFrom('credentials').select('status').where('partner_id', '=', p.partnerId).execute();
    expect(keys.map((k) => k.status)).toEqual(['active']);

    // the unanswered-review grace (4 s) does not run for security's suspension
    await new Promise((r) => setTimeout(r, 5500));
    expect((await partnerRow(stack, p.partnerId)).state).toBe('suspended');
    // the sponsor's answer cannot lift it, and the sponsor's inbox does not offer one; a second suspension is a conflict
    expect((await partnerRow(stack, p.partnerId)).suspended_by).toBe('operator:sec');
    const aliceInbox = (await stack.call('GET', '/v1/inbox', { token: t.alice })).json.items as { partnerId: string }[];
    expect(aliceInbox.map((i) => i.partnerId)).not.toContain(p.partnerId);
    expect((await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token: t.alice, body: { decision: 'keep', reason: 'fine' } })).status).toBe(409);
    expect((await suspend(p.partnerId, t.sec)).status).toBe(409);

    const resumed = await resume(p.partnerId, t.sec);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.json).toMatchObject({ state: 'active' });
    expect(await introspect(p.apiKey)).toMatchObject({ active: true });
    expect((await partnerRow(stack, p.partnerId)).suspended_by).toBeNull();
    expect(await auditOf(p.partnerId, 'partner.resumed')).toMatchObject([{ actor: 'operator:sec', reason: 'key rotated by the partner', before: 'suspended', after: 'active' }]);
    expect((await resume(p.partnerId, t.sec)).status).toBe(409);
    // the partner reads that security suspended it, never security's note
    const timeline = await stack.call('GET', `/v1/partners/${p.partnerId}/timeline`, { token: p.requestToken });
    expect(timeline.text).not.toContain('public repository');
    expect(timeline.json.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'partner.suspended', by: 'security', reason: 'access suspended by security' }),
        expect.objectContaining({ action: 'partner.resumed', by: 'security', reason: null }),
      ]),
    );
  });

  it('security only; not before approval nor after the end; a suspended partner can still be revoked', async () => {
    const p = await activePartner(stack, { sponsor: t.alice });
    for (const token of [t.alice, t.root, t.aud, t.gw, p.apiKey]) {
      expect([403, 404]).toContain((await suspend(p.partnerId, token)).status);
    }
    expect((await suspend(p.partnerId, t.sec)).status).toBe(200);
    expect((await resume(p.partnerId, t.root)).status).toBe(403);
    const revoked = await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'confirmed leak' } });
    expect(revoked.status, revoked.text).toBe(202);
    await waitForState(stack, p.partnerId, 'revoked');
    expect((await resume(p.partnerId, t.sec)).status).toBe(409);

    const pending = await submit(stack);
    const early = await suspend(pending.partnerId, t.sec);
    expect(early.status, early.text).toBe(409);
    expect((await stack.call('POST', `/v1/partners/${pending.partnerId}/suspension`, { token: t.sec, body: {} })).status).toBe(400);
  });
});

describe('sponsor hand-over (item 3)', () => {
  it('a pending approval follows the new sponsor; the hand-over is audited with its reason', async () => {
    const { partnerId } = await submit(stack);
    const handed = await stack.call('POST', `/v1/partners/${partnerId}/sponsor`, { token: t.root, body: { sponsor: 'bob', reason: 'alice moved teams' } });
    expect(handed.status, handed.text).toBe(200);
    expect((await partnerRow(stack, partnerId)).sponsor).toBe('bob');
    expect(await auditOf(partnerId, 'partner.sponsor_changed')).toMatchObject([{ actor: 'operator:root', reason: 'alice moved teams' }]);
    expect(JSON.parse((await auditOf(partnerId, 'partner.sponsor_changed'))[0]!.details!)).toMatchObject({ from: 'alice', to: 'bob' });
    const inbox = (await stack.call('GET', '/v1/inbox', { token: t.bob })).json.items as { partnerId: string }[];
    expect(inbox.map((i) => i.partnerId)).toContain(partnerId);
    // the former sponsor no longer sees the request (an approver sees the partners it sponsors)
    expect((await decide(stack, partnerId, t.alice, { decision: 'approve' })).status).toBe(404);
    const approved = await decide(stack, partnerId, t.bob, { decision: 'approve' });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.json.state).toBe('active');
  });

  it('admin and security only; the successor is an active approver other than the sponsor; nothing changes otherwise', async () => {
    const p = await activePartner(stack, { sponsor: t.alice });
    const to = (token: string, sponsor: string) => stack.call('POST', `/v1/partners/${p.partnerId}/sponsor`, { token, body: { sponsor, reason: 'r' } });
    expect((await to(t.alice, 'bob')).status).toBe(403);
    expect((await to(t.aud, 'bob')).status).toBe(403);
    expect((await to(t.sec, 'alice')).status).toBe(422);
    expect((await to(t.sec, 'aud')).status).toBe(422);
    expect((await to(t.sec, 'nobody')).status).toBe(422);
    expect((await partnerRow(stack, p.partnerId)).sponsor).toBe('alice');
    expect((await to(t.sec, 'bob')).status).toBe(200);
    expect((await partnerRow(stack, p.partnerId)).sponsor).toBe('bob');
    expect(await actions(stack, p.partnerId)).toContain('partner.sponsor_changed');
  });

  it('revoking a sponsor of live partners is refused with the list, unless a successor takes them over', async () => {
    t.carol = await stack.operator('carol', ['approver']);
    const live = await activePartner(stack, { sponsor: t.carol }, { sponsor: 'carol' });
    const pending = await submit(stack, { sponsor: 'carol' });
    const refused = await stack.call('POST', '/v1/operators/carol/revocation', { token: t.root, body: { reason: 'left the company' } });
    expect(refused.status, refused.text).toBe(409);
    expect(new Set(refused.json.partners)).toEqual(new Set([live.partnerId, pending.partnerId]));
    expect((await stack.call('GET', '/v1/inbox', { token: t.carol })).status).toBe(200);

    expect((await stack.call('POST', '/v1/operators/carol/revocation', { token: t.root, body: { reason: 'left', successor: 'aud' } })).status).toBe(422);
    const revoked = await stack.call('POST', '/v1/operators/carol/revocation', { token: t.root, body: { reason: 'left the company', successor: 'bob' } });
    expect(revoked.status, revoked.text).toBe(200);
    expect((await stack.call('GET', '/v1/inbox', { token: t.carol })).status).toBe(401);
    for (const id of [live.partnerId, pending.partnerId]) {
      expect((await partnerRow(stack, id)).sponsor).toBe('bob');
      expect(await auditOf(id, 'partner.sponsor_changed')).toMatchObject([{ actor: 'operator:root', reason: 'sponsor carol revoked: left the company' }]);
    }
    const event = await stack.db.selectFrom('audit_events').select('details').where('action', '=', 'operator.revoked').where('event_key', '=', 'operator:carol:revoked').executeTakeFirstOrThrow();
    expect(JSON.parse(event.details!)).toMatchObject({ name: 'carol', successor: 'bob' });
    expect((await decide(stack, pending.partnerId, t.bob, { decision: 'approve' })).status).toBe(200);
  });

  it('a successor who cannot take every partner over takes none: 422 with the list, nothing handed over', async () => {
    t.erin = await stack.operator('erin', ['approver']);
    const mine = await submit(stack, { sponsor: 'erin' });
    const bobs = await submit(stack, { sponsor: 'erin' }, t.bob); // bob filed it: he may not sponsor it
    const refused = await stack.call('POST', '/v1/operators/erin/revocation', { token: t.root, body: { reason: 'left', successor: 'bob' } });
    expect(refused.status, refused.text).toBe(422);
    expect(refused.json.partners).toEqual([{ partnerId: bobs.partnerId, problem: expect.stringContaining('requester') }]);
    for (const id of [mine.partnerId, bobs.partnerId]) expect((await partnerRow(stack, id)).sponsor).toBe('erin');
    expect((await stack.call('GET', '/v1/inbox', { token: t.erin })).status).toBe(200);
  });
});

describe('a due review follows the new sponsor (item 3)', () => {
  let reviews: Stack;
  const rt = {} as Record<'alice' | 'bob' | 'root', string>;
  beforeAll(async () => {
    // a review opens 2 s after approval and is due 4 s later
    reviews = await startStack({ policyOverrides: { ...quietTimers, recertifyEvery: '6s', recertReminders: ['4s'] } });
    rt.alice = await reviews.operator('alice', ['approver']);
    rt.bob = await reviews.operator('bob', ['approver']);
    rt.root = await reviews.operator('root', ['admin']);
  }, 120_000);
  afterAll(() => reviews?.stop());

  it('the successor answers the review; the former sponsor no longer can', async () => {
    const p = await activePartner(reviews, { sponsor: rt.alice });
    await waitForState(reviews, p.partnerId, 'recertification_due');
    const handed = await reviews.call('POST', `/v1/partners/${p.partnerId}/sponsor`, { token: rt.root, body: { sponsor: 'bob', reason: 'alice is on leave' } });
    expect(handed.status, handed.text).toBe(200);
    expect(handed.json.state).toBe('recertification_due');
    const inbox = (await reviews.call('GET', '/v1/inbox', { token: rt.bob })).json.items as { partnerId: string; kind: string }[];
    expect(inbox).toEqual(expect.arrayContaining([expect.objectContaining({ partnerId: p.partnerId, kind: 'recertification' })]));
    const keep = (token: string) => reviews.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token, body: { decision: 'keep', reason: 'still needed' } });
    expect((await keep(rt.alice)).status).toBe(404);
    const kept = await keep(rt.bob);
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json.state).toBe('active');
    const recert = await reviews.db.selectFrom('recertifications').select(['actor', 'decision']).where('partner_id', '=', p.partnerId).execute();
    expect(recert).toEqual([{ actor: 'operator:bob', decision: 'keep' }]);
  });
});

describe('extensions of a grant that needs security (item 2)', () => {
  const minutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();
  const extend = (p: { partnerId: string; apiKey: string }, accessUntil: string) =>
    stack.call('POST', `/v1/partners/${p.partnerId}/extension`, { token: p.apiKey, body: { accessUntil, reason: 'the integration runs longer' } });

  it('a high-risk grant: the sponsor approves, then security; the end moves only with security’s approval', async () => {
    const p = await activePartner(stack, { sponsor: t.alice, security: t.sec }, { scopes: ['orders:read', 'payments:read'], accessUntil: minutes(30) });
    const before = await partnerRow(stack, p.partnerId);
    const wanted = minutes(45);
    expect((await extend(p, wanted)).status).toBe(200);
    const sponsor = await decide(stack, p.partnerId, t.alice, { decision: 'approve', reason: 'still needed' });
    expect(sponsor.status, sponsor.text).toBe(200);
    const waiting = await partnerRow(stack, p.partnerId);
    expect(waiting.access_until).toBe(before.access_until);
    expect(JSON.parse(waiting.pending_extension!)).toMatchObject({ stage: 'security' });
    expect((await auditOf(p.partnerId, 'extension.sponsor_approved'))).toMatchObject([{ actor: 'operator:alice' }]);
    // the sponsor's second word is not security's
    expect((await decide(stack, p.partnerId, t.alice, { decision: 'approve' })).status).toBe(403);
    const inbox = (await stack.call('GET', '/v1/inbox', { token: t.sec })).json.items as { partnerId: string }[];
    expect(inbox.map((i) => i.partnerId)).toContain(p.partnerId);

    const security = await decide(stack, p.partnerId, t.sec, { decision: 'approve', reason: 'reviewed' });
    expect(security.status, security.text).toBe(200);
    expect(security.json.accessUntil).toBe(new Date(wanted).toISOString());
    const after = await partnerRow(stack, p.partnerId);
    expect(after.pending_extension).toBeNull();
    expect(after.access_until).toBe(new Date(wanted).toISOString());
    const key = await stack.db.selectFrom('credentials').select('expires_at').where('key_id', '=', p.keyId).executeTakeFirstOrThrow();
    expect(key.expires_at).toBe(new Date(wanted).toISOString());
    const decisions = await stack.db.selectFrom('decisions').select(['kind', 'stage', 'actor']).where('partner_id', '=', p.partnerId).where('kind', '=', 'extension').orderBy('id').execute();
    expect(decisions).toEqual([
      { kind: 'extension', stage: 'sponsor', actor: 'operator:alice' },
      { kind: 'extension', stage: 'security', actor: 'operator:sec' },
    ]);
  });

  it('security may refuse what the sponsor approved; a low-risk grant needs the sponsor only', async () => {
    const risky = await activePartner(stack, { sponsor: t.alice, security: t.sec }, { scopes: ['payments:read'], accessUntil: minutes(30) });
    const end = (await partnerRow(stack, risky.partnerId)).access_until;
    expect((await extend(risky, minutes(40))).status).toBe(200);
    expect((await decide(stack, risky.partnerId, t.alice, { decision: 'approve' })).status).toBe(200);
    expect((await decide(stack, risky.partnerId, t.sec, { decision: 'reject', reason: 'no' })).status).toBe(200);
    expect(await partnerRow(stack, risky.partnerId)).toMatchObject({ access_until: end, pending_extension: null });
    expect(await actions(stack, risky.partnerId)).toEqual(expect.arrayContaining(['extension.sponsor_approved', 'extension.rejected']));

    const plain = await activePartner(stack, { sponsor: t.alice }, { accessUntil: minutes(30) });
    const wanted = minutes(40);
    expect((await extend(plain, wanted)).status).toBe(200);
    const approved = await decide(stack, plain.partnerId, t.alice, { decision: 'approve' });
    expect(approved.json.accessUntil).toBe(new Date(wanted).toISOString());
    expect(await actions(stack, plain.partnerId)).not.toContain('extension.sponsor_approved');
  });
});

describe('the rate tier as a decision (item 10)', () => {
  it('granted at approval within what the policy lets an approver grant; changed later by security, audited, enforced at once', async () => {
    const { partnerId, requestToken } = await submit(stack);
    const tooHigh = await decide(stack, partnerId, t.alice, { decision: 'approve', rateLimitTier: 'restricted' });
    expect(tooHigh.status, tooHigh.text).toBe(422);
    expect(tooHigh.json.detail).toMatch(/not one an approver may grant/);
    const approved = await decide(stack, partnerId, t.alice, { decision: 'approve', rateLimitTier: 'elevated' });
    expect(approved.status, approved.text).toBe(200);
    expect((await partnerRow(stack, partnerId)).rate_limit_tier).toBe('elevated');
    const apiKey = (await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken })).json.apiKey as string;
    expect((await introspect(apiKey)).rateLimit).toMatchObject({ tier: 'elevated', requests: 50 });

    const set = (token: string, tier: string) => stack.call('POST', `/v1/partners/${partnerId}/rate-tier`, { token, body: { tier, reason: 'abusive polling' } });
    expect((await set(t.alice, 'restricted')).status).toBe(403);
    expect((await set(t.sec, 'platinum')).status).toBe(422);
    expect((await set(t.sec, 'elevated')).status).toBe(422);
    const cursor = await feedHead();
    const changed = await set(t.sec, 'restricted');
    expect(changed.status, changed.text).toBe(200);
    // enforced from the answer on: auth_request reads the row, the edge hears it from the feed
    expect((await introspect(apiKey)).rateLimit).toMatchObject({ tier: 'restricted', requests: 1 });
    expect(await feedSince(cursor, partnerId)).toContain('partner.rate_limit_tier');
    const events = await auditOf(partnerId, 'partner.rate_tier_changed');
    expect(events).toMatchObject([{ actor: 'operator:sec', reason: 'abusive polling' }]);
    expect(JSON.parse(events[0]!.details!)).toEqual({ from: 'elevated', to: 'restricted' });
    expect((await set(t.root, 'standard')).status).toBe(200);
  });
});

describe('auto-approval by policy (item 5)', () => {
  let auto: Stack;
  let policyDir: string;
  const at = {} as Record<'alice' | 'sec' | 'gw', string>;
  beforeAll(async () => {
    // sandbox approves low-risk requests by itself; production says nothing, so it never does
    const raw = JSON.parse(fs.readFileSync(fastPolicyFile, 'utf8'));
    for (const env of ['sandbox', 'production']) Object.assign(raw.environments[env], quietTimers);
    raw.environments.sandbox.autoApprove = { scopes: 'low-risk' };
    policyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-auto-'));
    const policyFile = path.join(policyDir, 'policy.json');
    fs.writeFileSync(policyFile, JSON.stringify(raw));
    auto = await startStack({ policyFile });
    at.alice = await auto.operator('alice', ['approver']);
    at.sec = await auto.operator('sec', ['security']);
    at.gw = await auto.operator('gw', ['gateway']);
  }, 120_000);
  afterAll(async () => {
    await auto?.stop();
    fs.rmSync(policyDir, { recursive: true, force: true });
  });

  it('a sandbox request with only low-risk scopes is approved by the policy, audited as the policy; the key is picked up as usual', async () => {
    const { partnerId, requestToken } = await submit(auto, { scopes: ['orders:read', 'catalog:read'] });
    await waitForState(auto, partnerId, 'active');
    const by = `system:policy@${auto.policy.version}`;
    const granted = await auto.db.selectFrom('audit_events').select(['actor', 'reason']).where('partner_id', '=', partnerId).where('action', '=', 'approval.granted').execute();
    expect(granted).toMatchObject([{ actor: by }]);
    const decisions = await auto.db.selectFrom('decisions').select(['actor', 'stage', 'decision']).where('partner_id', '=', partnerId).execute();
    expect(decisions).toEqual([{ actor: by, stage: 'sponsor', decision: 'approve' }]);
    const pickup = await auto.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
    expect(pickup.status, pickup.text).toBe(200);
    expect((await auto.call('POST', '/v1/introspect', { token: at.gw, body: { token: pickup.json.apiKey } })).json).toMatchObject({ active: true });
  });

  it('a high-risk scope, or an environment whose policy does not say so, waits for its approvers', async () => {
    const risky = await submit(auto, { scopes: ['orders:read', 'payments:read'] });
    const production = await submit(auto, { environment: 'production', scopes: ['orders:read'] });
    await new Promise((r) => setTimeout(r, 1000));
    for (const { partnerId } of [risky, production]) {
      expect(await partnerRow(auto, partnerId)).toMatchObject({ state: 'pending_approval', stage: 'sponsor' });
      expect(await actions(auto, partnerId)).toEqual(['partner.submitted']);
    }
    expect((await decide(auto, risky.partnerId, at.alice, { decision: 'approve' })).json.state).toBe('pending_approval');
  });
});
