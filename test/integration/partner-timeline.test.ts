/**
 * GET /v1/partners/{id}/timeline by caller: the partner (request token or key) gets its own view,
 * operators the audit events. On the real stack: real workflow, real decisions, real audit rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit } from '../../schema/repositories/audit.js';
import { neutralReasons } from '../../api/partner-timeline.js';
import { timelineResponseSchema } from '../../schema/api.js';
import { activePartner, decide, submit, waitForAction, waitForState } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
const t: Record<string, string> = {};
// Names that cannot occur by chance in a timeline, so their absence means something.
const SPONSOR = 'ozymandias';
const SECURITY = 'quetzalcoatl';
const ADMIN = 'vercingetorix';
const AUDITOR = 'hypatia';

// Reasons written by operators for each other, and reasons written for the partner.
const internal = {
  stage1: 'internal: contract 4711 signed by legal',
  stage2: 'internal: threat intel cleared this vendor',
  planned: 'internal: migration wave 3, ticket OPS-991',
  revocation: 'internal: key found on a paste site, insider suspected',
};
const forPartner = {
  extension: 'we need the access for the Q3 close',
  extensionAnswer: 'budget for Q3 is not approved yet',
  rejection: 'no signed contract on file',
};

interface PartnerEvent {
  at: string;
  action: string;
  by: string;
  reason: string | null;
  details: Record<string, string> | null;
}

const timeline = async (partnerId: string, token: string) => {
  const res = await stack.call('GET', `/v1/partners/${partnerId}/timeline`, { token });
  expect(res.status, res.text).toBe(200);
  // what the OpenAPI document promises for either caller
  expect(timelineResponseSchema.safeParse(res.json).success, res.text).toBe(true);
  return res;
};

const full: { partnerId: string; requestToken: string; apiKey: string; keyId: string; rotatedKeyId: string } = {} as never;

beforeAll(async () => {
  stack = await startStack({
    // nothing moves on its own while a test runs
    policyOverrides: {
      approvalTimeout: '1 hour',
      approvalReminders: [],
      escalateAfter: '50 minutes',
      recertifyEvery: '50 minutes',
      recertReminders: ['10 minutes'],
      expiryWarnings: ['1 minute'],
      rotationOverlap: '1 hour',
    },
  });
  t.sponsor = await stack.operator(SPONSOR, ['approver']);
  t.sec = await stack.operator(SECURITY, ['security']);
  t.admin = await stack.operator(ADMIN, ['admin']);
  t.aud = await stack.operator(AUDITOR, ['auditor']);

  // A whole life: two approval stages, pickup, rotation, an extension asked and refused, an
  // offboarding planned by an admin, then an emergency revocation.
  const { partnerId, requestToken } = await submit(stack, {
    sponsor: SPONSOR,
    scopes: ['orders:read', 'payments:read'],
    accessUntil: new Date(Date.now() + 30 * 60_000).toISOString(),
  });
  expect((await decide(stack, partnerId, t.sponsor!, { decision: 'approve', reason: internal.stage1 })).status).toBe(200);
  expect((await decide(stack, partnerId, t.sec!, { decision: 'approve', reason: internal.stage2 })).status).toBe(200);
  const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
  expect(pickup.status, pickup.text).toBe(200);
  const rotated = await stack.call('POST', `/v1/partners/${partnerId}/credentials/rotate`, { token: pickup.json.apiKey });
  expect(rotated.status, rotated.text).toBe(200);
  Object.assign(full, { partnerId, requestToken, apiKey: rotated.json.apiKey, keyId: pickup.json.keyId, rotatedKeyId: rotated.json.keyId });

  const extension = await stack.call('POST', `/v1/partners/${partnerId}/extension`, {
    token: full.apiKey,
    body: { accessUntil: new Date(Date.now() + 45 * 60_000).toISOString(), reason: forPartner.extension },
  });
  expect(extension.status, extension.text).toBe(200);
  expect((await decide(stack, partnerId, t.sponsor!, { decision: 'reject', reason: forPartner.extensionAnswer })).status).toBe(200);
  const planned = await stack.call('POST', `/v1/partners/${partnerId}/offboarding`, {
    token: t.admin,
    body: { at: new Date(Date.now() + 20 * 60_000).toISOString(), reason: internal.planned },
  });
  expect(planned.status, planned.text).toBe(200);
  const revoked = await stack.call('POST', `/v1/partners/${partnerId}/revocation`, { token: t.sec, body: { reason: internal.revocation } });
  expect(revoked.status, revoked.text).toBe(202);
  await waitForAction(stack, partnerId, 'partner.revoked');
});
afterAll(() => stack?.stop());

describe('the partner’s own timeline', () => {
  it('says what happened, when and in which role, with the key’s public details only', async () => {
    // (the keys died with the revocation; the request token still opens the partner's own view)
    const res = await timeline(full.partnerId, full.requestToken);
    expect(res.json.view).toBe('partner');
    const events = res.json.events as PartnerEvent[];
    expect(events.map((e) => [e.action, e.by])).toEqual([
      ['partner.submitted', 'partner'],
      ['approval.granted', 'sponsor'],
      ['approval.granted', 'security'],
      ['credential.issued', 'security'],
      ['partner.activated', 'security'],
      ['credential.picked_up', 'partner'],
      ['credential.issued', 'partner'],
      ['credential.rotated', 'partner'],
      ['credential.picked_up', 'partner'],
      ['extension.requested', 'partner'],
      ['extension.rejected', 'sponsor'],
      ['offboarding.planned', 'admin'],
      ['partner.revocation_requested', 'security'],
      ['partner.revoked', 'security'],
    ]);
    for (const e of events) expect(Object.keys(e).sort()).toEqual(['action', 'at', 'by', 'details', 'reason']);
    // times are the audit trail's own
    const rows = await stack.db.selectFrom('audit_events').select(['at', 'action']).where('partner_id', '=', full.partnerId).orderBy('seq').execute();
    expect(events.map((e) => e.at)).toEqual(rows.map((r) => r.at));
    // the key's identifiers and times, never its version, purpose or anything internal
    const [issued, activated, pickedUp, reissued, rotation, rotationPickedUp] = events.slice(3);
    expect(issued!.details).toEqual({ keyId: full.keyId, prefix: expect.stringMatching(/^pak_test_/), expiresAt: expect.any(String) });
    expect(activated!.details).toEqual(issued!.details);
    expect(pickedUp!.details).toEqual({ keyId: full.keyId });
    expect(rotationPickedUp!.details).toEqual({ keyId: full.rotatedKeyId });
    expect(Object.keys(reissued!.details!).sort()).toEqual(['expiresAt', 'keyId', 'prefix']);
    expect(rotation!.details).toEqual({ newKeyId: full.rotatedKeyId, oldKeyId: full.keyId, retireAt: expect.any(String) });
  });

  it('shows the reasons written for the partner and none of the internal ones', async () => {
    const res = await timeline(full.partnerId, full.requestToken);
    const reasons = Object.fromEntries((res.json.events as PartnerEvent[]).map((e) => [e.action, e.reason]));
    expect(reasons).toMatchObject({
      'partner.submitted': null,
      'approval.granted': null,
      'extension.requested': forPartner.extension,
      'extension.rejected': forPartner.extensionAnswer,
      'offboarding.planned': neutralReasons.plannedByAdmin,
    });
    for (const text of Object.values(internal)) expect(res.text).not.toContain(text);
  });

  it('never names an operator, shows no sequence number or hash of the global chain', async () => {
    const res = await timeline(full.partnerId, full.requestToken);
    for (const name of [SPONSOR, SECURITY, ADMIN, 'operator:']) expect(res.text).not.toContain(name);
    const rows = await stack.db.selectFrom('audit_events').select(['seq', 'hash', 'prev_hash']).execute();
    for (const row of rows) {
      expect(res.text).not.toContain(row.hash);
      expect(res.text).not.toContain(row.prev_hash);
    }
    expect(Object.keys(res.json).sort()).toEqual(['events', 'partnerId', 'view']);
  });

  it('an emergency revocation shows a neutral sentence, never security’s reason', async () => {
    const res = await timeline(full.partnerId, full.requestToken);
    const tail = (res.json.events as PartnerEvent[]).slice(-2);
    expect(tail).toEqual([
      { at: expect.any(String), action: 'partner.revocation_requested', by: 'security', reason: neutralReasons.revoked, details: null },
      { at: expect.any(String), action: 'partner.revoked', by: 'security', reason: neutralReasons.revoked, details: null },
    ]);
    expect(res.text).not.toContain(internal.revocation);
    expect(res.text).not.toContain('keysRevoked');
  });

  it('the partner’s view of itself and the notice it gets say what its timeline says', async () => {
    const own = await stack.call('GET', `/v1/partners/${full.partnerId}`, { token: full.requestToken });
    expect(own.status, own.text).toBe(200);
    expect(own.json.endReason).toBe(neutralReasons.revoked);
    for (const text of Object.values(internal)) expect(own.text).not.toContain(text);
    // the sponsor is the partner's own choice at submission; the operators who acted are not named
    for (const name of [SECURITY, ADMIN, 'operator:']) expect(own.text).not.toContain(name);
    // operators keep the written reason
    const audited = await stack.call('GET', `/v1/partners/${full.partnerId}`, { token: t.aud });
    expect(audited.json.endReason).toBe(internal.revocation);
    // the partner.revoked notice goes to the partner too: no internal reason in it
    // written by the notice activity right after the partner.revoked transition
    const notice = await eventually(() =>
      stack.db.selectFrom('notifications').select('payload').where('partner_id', '=', full.partnerId).where('kind', '=', 'partner.revoked').executeTakeFirst(),
    );
    expect(notice.payload).toContain(neutralReasons.revoked);
    expect(notice.payload).not.toContain(internal.revocation);
  });

  it('an offboarding an administrator planned reads, for the partner, as planned by an administrator', async () => {
    const p = await activePartner(stack, { sponsor: t.sponsor! }, { sponsor: SPONSOR, scopes: ['orders:read'] });
    const at = new Date(Date.now() + 20 * 60_000).toISOString();
    const planned = await stack.call('POST', `/v1/partners/${p.partnerId}/offboarding`, { token: t.admin, body: { at, reason: internal.planned } });
    expect(planned.status, planned.text).toBe(200);
    await waitForAction(stack, p.partnerId, 'offboarding.planned');
    const own = await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: p.apiKey });
    expect(own.status, own.text).toBe(200);
    expect(own.json.plannedOffboarding).toEqual({ at: expect.any(String), reason: neutralReasons.plannedByAdmin, by: 'admin' });
    expect(own.text).not.toContain(internal.planned);
    expect(own.text).not.toContain(ADMIN);
    const audited = await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: t.aud });
    expect(audited.json.plannedOffboarding).toMatchObject({ reason: internal.planned, by: `operator:${ADMIN}` });
  });

  it('a rejection shows its reason and who decided, in role', async () => {
    const { partnerId, requestToken } = await submit(stack, { sponsor: SPONSOR, scopes: ['orders:read'] });
    expect((await decide(stack, partnerId, t.sponsor!, { decision: 'reject', reason: forPartner.rejection })).status).toBe(200);
    await waitForState(stack, partnerId, 'rejected');
    const events = (await timeline(partnerId, requestToken)).json.events as PartnerEvent[];
    expect(events.map(({ action, by, reason }) => ({ action, by, reason }))).toEqual([
      { action: 'partner.submitted', by: 'partner', reason: null },
      { action: 'approval.rejected', by: 'sponsor', reason: forPartner.rejection },
    ]);
  });

  it('leaves out what is not the partner’s: gateway checks and any action nobody has vetted', async () => {
    const p = await activePartner(stack, { sponsor: t.sponsor! }, { sponsor: SPONSOR, scopes: ['orders:read'] });
    await stack.db.transaction().execute(async (trx) => {
      await appendAudit(trx, {
        eventKey: `${p.partnerId}:test-verification`,
        at: new Date().toISOString(),
        actor: 'system:gateway-verifier',
        action: 'revocation.verification_failed',
        partnerId: p.partnerId,
        details: { gateway: 'http://10.0.0.7/probe', keys: [{ keyId: p.keyId, status: 200 }] },
      });
      // an action added later, before anyone decided what of it a partner may see
      await appendAudit(trx, {
        eventKey: `${p.partnerId}:test-future`,
        at: new Date().toISOString(),
        actor: `operator:${SECURITY}`,
        action: 'partner.watchlisted',
        partnerId: p.partnerId,
        reason: 'internal: flagged by fraud team',
        details: { keyId: p.keyId, note: 'internal' },
      });
    });
    const mine = await timeline(p.partnerId, p.apiKey);
    expect(mine.json.view).toBe('partner');
    const actions = (mine.json.events as PartnerEvent[]).map((e) => e.action);
    expect(actions).toEqual(['partner.submitted', 'approval.granted', 'credential.issued', 'partner.activated', 'credential.picked_up']);
    for (const text of ['10.0.0.7', 'fraud team', 'watchlisted', 'verification']) expect(mine.text).not.toContain(text);
    // operators see both
    const theirs = await timeline(p.partnerId, t.aud!);
    expect((theirs.json.events as { action: string }[]).map((e) => e.action).slice(-2)).toEqual(['revocation.verification_failed', 'partner.watchlisted']);
  });
});

describe('operators keep the full audit view', () => {
  it.each([
    ['the sponsor', () => t.sponsor!],
    ['an auditor', () => t.aud!],
  ])('%s gets every audit event with actor, reasons, sequence and hashes', async (_who, token) => {
    const res = await timeline(full.partnerId, token());
    expect(res.json.view).toBe('operator');
    const rows = await stack.db.selectFrom('audit_events').selectAll().where('partner_id', '=', full.partnerId).orderBy('seq').execute();
    const events = res.json.events as { seq: number; actor: string; reason: string | null; hash: string; prevHash: string }[];
    expect(events.map((e) => [e.seq, e.actor, e.reason, e.hash, e.prevHash])).toEqual(rows.map((r) => [r.seq, r.actor, r.reason, r.hash, r.prev_hash]));
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining([internal.stage1, internal.stage2, internal.planned, internal.revocation]));
    expect(events.some((e) => e.actor === `operator:${SPONSOR}`)).toBe(true);
  });

  it('the partner view and the full view describe the same events', async () => {
    const partner = (await timeline(full.partnerId, full.requestToken)).json.events as PartnerEvent[];
    const audit = (await timeline(full.partnerId, t.aud!)).json.events as { action: string; at: string }[];
    expect(partner.map((e) => `${e.at} ${e.action}`)).toEqual(audit.map((e) => `${e.at} ${e.action}`));
  });
});
