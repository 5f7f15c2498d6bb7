import { describe, expect, it } from 'vitest';
import type { Actor, DecisionInput } from '../../workflows/messages.js';
import { checkDecision, checkExtension, checkOffboarding, checkRecertification, checkRotation } from '../../workflows/rules.js';
import { agenda, initialState, nextDeadline, nextItem, requiredStages, type LifecyclePolicy, type LifecycleState } from '../../workflows/state.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const S = 1000;
const policy: LifecyclePolicy = {
  version: 'sha256:test',
  securityApproval: 'high-risk',
  scopeRisk: { 'orders:read': 'low', 'catalog:read': 'low', 'payments:read': 'high' },
  maxAccessMs: 1000 * S,
  approvalTimeoutMs: 60 * S,
  approvalRemindersMs: [10 * S],
  escalateAfterMs: 30 * S,
  recertifyEveryMs: 100 * S,
  recertRemindersMs: [20 * S, 5 * S],
  noAnswer: 'suspend',
  suspendedGraceMs: 50 * S,
  expiryWarningsMs: [30 * S],
  rotationOverlapMs: 10 * S,
};
function state(overrides: Partial<LifecycleState> = {}): LifecycleState {
  const s = initialState(
    'P1',
    { environment: 'sandbox', sponsor: 'alice', requestedBy: 'operator:carol', scopes: ['orders:read', 'catalog:read'], accessUntil: new Date(T0 + 500 * S).toISOString(), submittedAt: new Date(T0).toISOString() },
    T0,
  );
  return { ...s, policy, stages: ['sponsor', 'security'], ...overrides };
}
const op = (name: string, ...roles: ('approver' | 'security' | 'admin')[]): Actor => ({ kind: 'operator', name, roles });
const partner: Actor = { kind: 'partner', partnerId: 'P1' };
const decide = (actor: Actor, extra: Partial<DecisionInput> = {}): DecisionInput => ({ decision: 'approve', reason: 'r', actor, ...extra });

describe('who decides', () => {
  it('stage 1: the sponsor; alternates only after escalation; never the requester', () => {
    expect(checkDecision(state(), decide(op('alice', 'approver')), T0)).toBeNull();
    expect(checkDecision(state(), decide(op('bob', 'approver')), T0)?.type).toBe('ForbiddenActor');
    expect(checkDecision(state({ escalated: true }), decide(op('bob', 'approver')), T0)).toBeNull();
    expect(checkDecision(state({ sponsor: 'carol' }), decide(op('carol', 'approver')), T0)?.message).toContain('requester');
    expect(checkDecision(state(), decide(partner), T0)?.type).toBe('ForbiddenActor');
  });

  it('stage 2: security, and nobody approves two stages', () => {
    const s = state({ stage: 'security', approvedBy: ['operator:dual'] });
    expect(checkDecision(s, decide(op('sec', 'security')), T0)).toBeNull();
    expect(checkDecision(s, decide(op('bob', 'approver')), T0)?.type).toBe('ForbiddenActor');
    expect(checkDecision(s, decide(op('dual', 'approver', 'security')), T0)?.message).toContain('two stages');
    expect(checkDecision(state({ stage: 'security', approvedBy: ['operator:alice'] }), decide(op('alice', 'approver')), T0)?.type).toBe('AlreadyDecided');
  });

  it('a decision is for the stage the API showed: once that stage is decided, it never counts for the next', () => {
    const dual = op('dana', 'approver', 'security');
    const atStage2 = state({ stage: 'security', escalated: true, approvedBy: ['operator:alice'] });
    // dana answered stage 1 as an escalated alternate, but alice's approval closed it first
    expect(checkDecision(atStage2, decide(dual, { stage: 'sponsor' }), T0)).toMatchObject({ type: 'AlreadyDecided', message: expect.stringContaining('sponsor stage') });
    // shown stage 2, the same operator may decide it
    expect(checkDecision(atStage2, decide(dual, { stage: 'security' }), T0)).toBeNull();
    // the last stage closed by another security operator: nothing left to decide
    expect(checkDecision(state({ state: 'active', stage: null }), decide(op('sec2', 'security'), { stage: 'security' }), T0)?.type).toBe('AlreadyDecided');
    expect(checkDecision(state({ escalated: true }), decide(dual, { stage: 'sponsor' }), T0)).toBeNull();
  });

  it('narrow only, shorten only, in the future', () => {
    const alice = op('alice', 'approver');
    expect(checkDecision(state(), decide(alice, { scopes: ['orders:read'] }), T0)).toBeNull();
    expect(checkDecision(state(), decide(alice, { scopes: ['payments:read'] }), T0)?.type).toBe('InvalidRequest');
    expect(checkDecision(state(), decide(alice, { scopes: [] }), T0)?.type).toBe('InvalidRequest');
    expect(checkDecision(state(), decide(alice, { accessUntil: new Date(T0 + 600 * S).toISOString() }), T0)?.message).toContain('shortened');
    expect(checkDecision(state(), decide(alice, { accessUntil: new Date(T0 - S).toISOString() }), T0)?.message).toContain('future');
    expect(checkDecision(state({ state: 'active' }), decide(alice), T0)?.type).toBe('NotAllowedInState');
  });
});

describe('recertification, extension, offboarding, rotation', () => {
  const due = state({ state: 'recertification_due', stage: null });
  it('only the sponsor, only while due or suspended; narrow must remove a scope', () => {
    expect(checkRecertification(due, { decision: 'keep', reason: 'r', actor: op('alice', 'approver') })).toBeNull();
    expect(checkRecertification(state({ state: 'suspended' }), { decision: 'keep', reason: 'r', actor: op('alice', 'approver') })).toBeNull();
    expect(checkRecertification(due, { decision: 'keep', reason: 'r', actor: op('bob', 'approver') })?.type).toBe('ForbiddenActor');
    expect(checkRecertification(state({ state: 'active' }), { decision: 'keep', reason: 'r', actor: op('alice', 'approver') })?.type).toBe('NotAllowedInState');
    expect(checkRecertification(due, { decision: 'narrow', scopes: ['orders:read', 'catalog:read'], reason: 'r', actor: op('alice', 'approver') })?.message).toContain('remove');
    expect(checkRecertification(due, { decision: 'narrow', scopes: ['orders:read'], reason: 'r', actor: op('alice', 'approver') })).toBeNull();
  });

  it('an answer pinned to a review answers that review only, never the next one', () => {
    const next = state({ state: 'recertification_due', stage: null, cycle: 4 });
    expect(checkRecertification(next, { decision: 'keep', reason: 'r', actor: op('alice', 'approver'), cycle: 4 })).toBeNull();
    const stale = checkRecertification(next, { decision: 'keep', reason: 'r', actor: op('alice', 'approver'), cycle: 3 });
    expect(stale?.type).toBe('NotAllowedInState');
    expect(stale?.message).toBe('the review this answers (cycle 3) is closed; cycle 4 is open');
    // an update sent before answers named their cycle (a history replayed, an update held across the deploy)
    expect(checkRecertification(next, { decision: 'keep', reason: 'r', actor: op('alice', 'approver') })).toBeNull();
  });

  it('extensions: the partner, later than now’s end, within maxAccess, one at a time', () => {
    const active = state({ state: 'active', stage: null });
    const at = (s: number) => new Date(T0 + s * S).toISOString();
    expect(checkExtension(active, { accessUntil: at(700), reason: 'r', actor: partner }, T0)).toBeNull();
    expect(checkExtension(active, { accessUntil: at(400), reason: 'r', actor: partner }, T0)?.type).toBe('InvalidRequest');
    expect(checkExtension(active, { accessUntil: at(2000), reason: 'r', actor: partner }, T0)?.message).toContain('maximum');
    expect(checkExtension(active, { accessUntil: at(700), reason: 'r', actor: op('alice', 'approver') }, T0)?.type).toBe('ForbiddenActor');
    expect(checkExtension({ ...active, pendingExtension: { accessUntilMs: T0, reason: 'x', requestedAtMs: T0 } }, { accessUntil: at(700), reason: 'r', actor: partner }, T0)?.type).toBe('NotAllowedInState');
  });

  it('extensions: the maximum access counts from the grant’s approval, so extensions cannot chain past it', () => {
    const at = (s: number) => new Date(T0 + s * S).toISOString();
    // approved at T0 (maxAccess 1000 s); 900 s later the end is 950 s
    const later = state({ state: 'active', stage: null, grantedAtMs: T0, certifiedAtMs: T0 + 800 * S, accessUntilMs: T0 + 950 * S });
    expect(checkExtension(later, { accessUntil: at(1000), reason: 'r', actor: partner }, T0 + 900 * S)).toBeNull();
    const refused = checkExtension(later, { accessUntil: at(1500), reason: 'r', actor: partner }, T0 + 900 * S);
    expect(refused?.type).toBe('InvalidRequest');
    expect(refused?.message).toContain('counted from the grant');
    // a workflow activated before grantedAtMs existed counts from its last certification
    const older = { ...later, grantedAtMs: undefined };
    expect(checkExtension(older, { accessUntil: at(1500), reason: 'r', actor: partner }, T0 + 900 * S)).toBeNull();
    expect(checkExtension(older, { accessUntil: at(1900), reason: 'r', actor: partner }, T0 + 900 * S)?.type).toBe('InvalidRequest');
  });

  it('offboarding: partner, sponsor or admin; not after the end, not in the past', () => {
    const active = state({ state: 'active', stage: null });
    expect(checkOffboarding(active, { reason: 'r', actor: partner }, T0)).toBeNull();
    expect(checkOffboarding(active, { reason: 'r', actor: op('alice', 'approver') }, T0)).toBeNull();
    expect(checkOffboarding(active, { reason: 'r', actor: op('root', 'admin') }, T0)).toBeNull();
    expect(checkOffboarding(active, { reason: 'r', actor: op('bob', 'approver') }, T0)?.type).toBe('ForbiddenActor');
    expect(checkOffboarding(active, { at: new Date(T0 + 600 * S).toISOString(), reason: 'r', actor: partner }, T0)?.type).toBe('InvalidRequest');
    expect(checkOffboarding(active, { at: new Date(T0 - 3600 * S).toISOString(), reason: 'r', actor: partner }, T0)?.message).toContain('past');
    expect(checkOffboarding(state(), { reason: 'r', actor: partner }, T0)?.type).toBe('NotAllowedInState');
  });

  it('rotation: the partner with its newest live key; at most two keys', () => {
    const one = state({ state: 'active', stage: null, credentials: [{ keyId: 'K1', version: 1, expiresAtMs: T0 + 500 * S }] });
    expect(checkRotation(one, { currentKeyId: 'K1', actor: partner })).toBeNull();
    expect(checkRotation(one, { currentKeyId: 'K9', actor: partner })?.type).toBe('NotAllowedInState');
    const two = { ...one, credentials: [{ keyId: 'K1', version: 1, expiresAtMs: T0 + 500 * S, retireAtMs: T0 + 10 * S }, { keyId: 'K2', version: 2, expiresAtMs: T0 + 500 * S }] };
    expect(checkRotation(two, { currentKeyId: 'K2', actor: partner })?.message).toContain('already');
    expect(checkRotation(two, { currentKeyId: 'K1', actor: partner })?.type).toBe('NotAllowedInState');
  });
});

describe('agenda', () => {
  it('approval: reminder, escalation, timeout per stage; done items drop out', () => {
    const s = state();
    expect(agenda(s).map((i) => [i.kind, i.atMs - T0])).toEqual([
      ['approval_reminder', 10 * S],
      ['approval_escalation', 30 * S],
      ['approval_timeout', 60 * S],
    ]);
    expect(agenda({ ...s, done: ['approval-reminder:sponsor:0'], escalated: true }).map((i) => i.kind)).toEqual(['approval_timeout']);
    expect(nextDeadline(s)).toEqual({ at: new Date(T0 + 30 * S).toISOString(), action: 'request escalated to alternates' });
  });

  it('access: the review opens at the largest reminder, then reminders, then the due date', () => {
    const active = state({ state: 'active', stage: null, certifiedAtMs: T0 });
    expect(nextItem(agenda(active))).toMatchObject({ kind: 'recertification_opens', atMs: T0 + 80 * S });
    const due = { ...active, state: 'recertification_due' as const };
    expect(agenda(due).filter((i) => i.kind.startsWith('recertification')).map((i) => [i.kind, i.atMs - T0])).toEqual([
      ['recertification_reminder', 95 * S],
      ['recertification_no_answer', 100 * S],
    ]);
    expect(nextDeadline(due)?.action).toContain('suspended');
    expect(nextDeadline({ ...due, policy: { ...policy, noAnswer: 'offboard' } })?.action).toContain('offboarded');
  });

  it('no review that the end of access cuts off; warnings only inside the current window; terminal states are quiet', () => {
    const short = state({ state: 'active', stage: null, certifiedAtMs: T0, accessUntilMs: T0 + 50 * S, accessWindowSetAtMs: T0 });
    expect(agenda(short).map((i) => i.kind).sort()).toEqual(['access_end', 'expiry_warning']);
    const late = { ...short, accessWindowSetAtMs: T0 + 40 * S };
    expect(agenda(late).map((i) => i.kind)).toEqual(['access_end']);
    expect(agenda(state({ state: 'revoked' }))).toEqual([]);
  });

  it('ties go to the state change; stage 2 only for risky scopes unless policy says always', () => {
    const items = [
      { atMs: 5, key: 'a', kind: 'expiry_warning' as const, changesState: false },
      { atMs: 5, key: 'b', kind: 'access_end' as const, changesState: true },
    ];
    expect(nextItem(items)?.key).toBe('b');
    expect(requiredStages(policy, ['orders:read'])).toEqual(['sponsor']);
    expect(requiredStages(policy, ['payments:read'])).toEqual(['sponsor', 'security']);
    expect(requiredStages({ ...policy, securityApproval: 'always' }, ['orders:read'])).toEqual(['sponsor', 'security']);
  });
});
