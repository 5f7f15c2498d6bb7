/**
 * The pure agenda of workflows/state.ts, case by case. Longer than our ~300-line mark: one
 * table of cases per function of one module, which reads best in one place.
 */
import { describe, it, expect } from 'vitest';
import type { PartnerState, Submission } from '../../workflows/messages.js';
import { checkDecision } from '../../workflows/rules.js';
import {
  agenda,
  initialState,
  nextDeadline,
  nextItem,
  requiredStages,
  statusOf,
  type AgendaItem,
  type LifecyclePolicy,
  type LifecycleState,
} from '../../workflows/state.js';

const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const policy: LifecyclePolicy = {
  version: 'v1',
  securityApproval: 'high-risk',
  scopeRisk: { 'orders:read': 'low', 'catalog:read': 'low', 'payments:read': 'high' },
  maxAccessMs: 100 * DAY,
  approvalTimeoutMs: 10 * DAY,
  approvalRemindersMs: [1 * DAY, 3 * DAY],
  escalateAfterMs: 5 * DAY,
  recertifyEveryMs: 30 * DAY,
  recertRemindersMs: [7 * DAY, 2 * DAY],
  noAnswer: 'suspend',
  suspendedGraceMs: 5 * DAY,
  expiryWarningsMs: [14 * DAY, 1 * DAY],
  rotationOverlapMs: 1 * DAY,
};

const submission: Submission = {
  environment: 'sandbox',
  sponsor: 'alice',
  requestedBy: 'partner',
  scopes: ['orders:read', 'catalog:read'],
  accessUntil: iso(T0 + 90 * DAY),
  submittedAt: iso(T0),
};

/** A pending request (stage 1, opened at T0) under `policy`, with overrides. */
function stateWith(overrides: Partial<LifecycleState> = {}): LifecycleState {
  return { ...initialState('P1', submission, T0), policy, ...overrides };
}

/** An active partner certified at T0, access until T0+90d, one key. */
function activeWith(overrides: Partial<LifecycleState> = {}): LifecycleState {
  return stateWith({
    state: 'active',
    stage: null,
    certifiedAtMs: T0,
    accessWindowSetAtMs: T0,
    credentialVersion: 1,
    credentials: [{ keyId: 'k1', version: 1, expiresAtMs: T0 + 90 * DAY }],
    ...overrides,
  });
}

const keys = (items: AgendaItem[]) => items.map((i) => i.key);
const ofKind = (items: AgendaItem[], kind: AgendaItem['kind']) => items.filter((i) => i.kind === kind);
const terminal: PartnerState[] = ['rejected', 'request_expired', 'offboarded', 'revoked'];

describe('initialState', () => {
  // What a fresh request does, not how the state object is spelled: the workflow loads the policy
  // and sets the stages right after this, so each case does the same before asking.
  const submitted = (nowMs: number, sub: Submission = submission) => ({ ...initialState('P1', sub, nowMs), policy });

  it('waits for its sponsor: reminders, escalation and timeout count from the moment the request opened', () => {
    const at = T0 + 5;
    const s = submitted(at);
    expect(agenda(s).map((i) => [i.kind, i.atMs])).toEqual([
      ['approval_reminder', at + 1 * DAY],
      ['approval_reminder', at + 3 * DAY],
      ['approval_escalation', at + 5 * DAY],
      ['approval_timeout', at + 10 * DAY],
    ]);
    expect(agenda(s).every((i) => i.key.includes(':sponsor'))).toBe(true);
    expect(nextDeadline(s)).toEqual({ at: iso(at + 5 * DAY), action: 'request escalated to alternates' });
  });

  it('reports a pending request with what was asked for and nothing granted yet', () => {
    const s = submitted(T0 + 5, { ...submission, environment: 'production', sponsor: 'carol' });
    expect(statusOf(s)).toMatchObject({
      partnerId: 'P1',
      state: 'pending_approval',
      stage: 'sponsor',
      escalated: false,
      environment: 'production',
      sponsor: 'carol',
      scopes: ['orders:read', 'catalog:read'],
      accessUntil: submission.accessUntil,
      cycle: 0,
      credentials: [],
      pendingExtension: null,
      plannedOffboarding: null,
      endReason: null,
    });
  });

  it('remembers who filed it: a sponsor who filed on the partner’s behalf cannot approve it', () => {
    const approveAsSponsor = (s: LifecycleState) =>
      checkDecision(s, { actor: { kind: 'operator', name: 'alice', roles: ['approver'] }, decision: 'approve', reason: 'ok' }, T0 + 1);
    expect(approveAsSponsor(submitted(T0, { ...submission, requestedBy: 'operator:alice' }))).toMatchObject({ type: 'ForbiddenActor' });
    // the same sponsor may approve the partner's own (self-service) request
    expect(approveAsSponsor(submitted(T0))).toBeNull();
  });

  it('parses accessUntil into milliseconds', () => {
    const s = initialState('P1', { ...submission, accessUntil: '2030-02-01T12:00:00.000Z' }, T0);
    expect(s.accessUntilMs).toBe(Date.parse('2030-02-01T12:00:00.000Z'));
  });

  it('copies the scopes: later changes to the submission do not leak in', () => {
    const sub: Submission = { ...submission, scopes: ['orders:read'] };
    const s = initialState('P1', sub, T0);
    sub.scopes.push('payments:read');
    expect(s.scopes).toEqual(['orders:read']);
    expect(s.scopes).not.toBe(sub.scopes);
  });

  it('has an empty agenda and no deadline until the policy is loaded', () => {
    const s = initialState('P1', submission, T0);
    expect(agenda(s)).toEqual([]);
    expect(nextDeadline(s)).toBeNull();
  });
});

describe('requiredStages', () => {
  it('sponsor only when every scope is low-risk under a high-risk policy', () => {
    expect(requiredStages(policy, ['orders:read', 'catalog:read'])).toEqual(['sponsor']);
  });

  it('adds the security stage when any scope is high-risk', () => {
    expect(requiredStages(policy, ['orders:read', 'payments:read'])).toEqual(['sponsor', 'security']);
    expect(requiredStages(policy, ['payments:read'])).toEqual(['sponsor', 'security']);
  });

  it('treats a scope unknown to the catalogue as risky', () => {
    expect(requiredStages(policy, ['orders:read', 'mystery:write'])).toEqual(['sponsor', 'security']);
  });

  it("always adds the security stage when the policy says 'always'", () => {
    const always: LifecyclePolicy = { ...policy, securityApproval: 'always' };
    expect(requiredStages(always, ['orders:read'])).toEqual(['sponsor', 'security']);
    expect(requiredStages(always, ['payments:read'])).toEqual(['sponsor', 'security']);
  });

  it('sponsor only for an empty scope list under a high-risk policy', () => {
    expect(requiredStages(policy, [])).toEqual(['sponsor']);
  });
});

describe('agenda: pending approval', () => {
  it('lists the reminders, the escalation and the timeout of the open stage', () => {
    expect(agenda(stateWith())).toEqual([
      { atMs: T0 + 1 * DAY, key: 'approval-reminder:sponsor:0', kind: 'approval_reminder', changesState: false },
      { atMs: T0 + 3 * DAY, key: 'approval-reminder:sponsor:1', kind: 'approval_reminder', changesState: false },
      { atMs: T0 + 5 * DAY, key: 'approval-escalation:sponsor', kind: 'approval_escalation', changesState: true },
      { atMs: T0 + 10 * DAY, key: 'approval-timeout:sponsor', kind: 'approval_timeout', changesState: true },
    ]);
  });

  it('times everything from when the current stage opened, keyed by that stage', () => {
    const opened = T0 + 2 * DAY;
    const s = stateWith({ stage: 'security', stages: ['sponsor', 'security'], stageOpenedAtMs: opened, approvedBy: ['operator:alice'] });
    expect(agenda(s)).toEqual([
      { atMs: opened + 1 * DAY, key: 'approval-reminder:security:0', kind: 'approval_reminder', changesState: false },
      { atMs: opened + 3 * DAY, key: 'approval-reminder:security:1', kind: 'approval_reminder', changesState: false },
      { atMs: opened + 5 * DAY, key: 'approval-escalation:security', kind: 'approval_escalation', changesState: true },
      { atMs: opened + 10 * DAY, key: 'approval-timeout:security', kind: 'approval_timeout', changesState: true },
    ]);
  });

  it('done items of stage 1 do not hide the same items of stage 2', () => {
    const s = stateWith({
      stage: 'security',
      stageOpenedAtMs: T0 + DAY,
      done: ['approval-reminder:sponsor:0', 'approval-reminder:sponsor:1', 'approval-escalation:sponsor'],
    });
    expect(keys(agenda(s))).toEqual([
      'approval-reminder:security:0',
      'approval-reminder:security:1',
      'approval-escalation:security',
      'approval-timeout:security',
    ]);
  });

  it('has no escalation once escalated; reminders and timeout remain', () => {
    expect(keys(agenda(stateWith({ escalated: true })))).toEqual([
      'approval-reminder:sponsor:0',
      'approval-reminder:sponsor:1',
      'approval-timeout:sponsor',
    ]);
  });

  it('drops items already done', () => {
    const s = stateWith({ done: ['approval-reminder:sponsor:0', 'approval-escalation:sponsor'] });
    expect(keys(agenda(s))).toEqual(['approval-reminder:sponsor:1', 'approval-timeout:sponsor']);
  });

  it('has no reminders when the policy lists none', () => {
    const s = stateWith({ policy: { ...policy, approvalRemindersMs: [] } });
    expect(agenda(s).map((i) => i.kind)).toEqual(['approval_escalation', 'approval_timeout']);
  });

  it('has no access items (end, warnings, review) while pending', () => {
    const s = stateWith({ pendingExtension: { accessUntilMs: T0 + 95 * DAY, reason: 'x', requestedAtMs: T0 } });
    const kinds = agenda(s).map((i) => i.kind);
    expect(kinds.every((k) => k.startsWith('approval_'))).toBe(true);
  });

  it('is empty when pending without a stage', () => {
    expect(agenda(stateWith({ stage: null }))).toEqual([]);
  });

  it('is empty without a policy', () => {
    expect(agenda(stateWith({ policy: null }))).toEqual([]);
  });
});

describe('agenda: access', () => {
  it('an active partner: review opening, expiry warnings and the access end', () => {
    expect(agenda(activeWith())).toEqual([
      { atMs: T0 + 90 * DAY, key: 'access-end', kind: 'access_end', changesState: true },
      { atMs: T0 + 76 * DAY, key: `expiry-warning:${T0 + 90 * DAY}:${14 * DAY}`, kind: 'expiry_warning', changesState: false },
      { atMs: T0 + 89 * DAY, key: `expiry-warning:${T0 + 90 * DAY}:${1 * DAY}`, kind: 'expiry_warning', changesState: false },
      { atMs: T0 + 23 * DAY, key: 'recert-opens:0', kind: 'recertification_opens', changesState: true },
    ]);
  });

  it('includes a planned offboarding as a state change', () => {
    const s = activeWith({ plannedOffboarding: { atMs: T0 + 40 * DAY, reason: 'contract ends', by: 'partner:P1' } });
    expect(ofKind(agenda(s), 'planned_offboarding')).toEqual([
      { atMs: T0 + 40 * DAY, key: 'planned-offboarding', kind: 'planned_offboarding', changesState: true },
    ]);
  });

  it('sends an expiry warning only when it falls at or after the moment the window was set', () => {
    // warnings would be at 76d and 89d
    const setAt76 = activeWith({ accessWindowSetAtMs: T0 + 76 * DAY });
    expect(ofKind(agenda(setAt76), 'expiry_warning').map((i) => i.atMs)).toEqual([T0 + 76 * DAY, T0 + 89 * DAY]);
    const setJustAfter76 = activeWith({ accessWindowSetAtMs: T0 + 76 * DAY + 1 });
    expect(ofKind(agenda(setJustAfter76), 'expiry_warning').map((i) => i.atMs)).toEqual([T0 + 89 * DAY]);
    const setAfterBoth = activeWith({ accessWindowSetAtMs: T0 + 89 * DAY + 1 });
    expect(ofKind(agenda(setAfterBoth), 'expiry_warning')).toEqual([]);
  });

  it('keys expiry warnings by the access end, so a moved end warns again', () => {
    const extended = activeWith({
      accessUntilMs: T0 + 120 * DAY,
      accessWindowSetAtMs: T0 + 50 * DAY,
      done: [`expiry-warning:${T0 + 90 * DAY}:${14 * DAY}`],
    });
    expect(keys(ofKind(agenda(extended), 'expiry_warning'))).toEqual([
      `expiry-warning:${T0 + 120 * DAY}:${14 * DAY}`,
      `expiry-warning:${T0 + 120 * DAY}:${1 * DAY}`,
    ]);
  });

  it('lists the retirement of each retiring key, and none for live keys', () => {
    const s = activeWith({
      credentials: [
        { keyId: 'k1', version: 1, expiresAtMs: T0 + 90 * DAY, retireAtMs: T0 + 10 * DAY },
        { keyId: 'k2', version: 2, expiresAtMs: T0 + 90 * DAY },
      ],
    });
    expect(ofKind(agenda(s), 'credential_retirement')).toEqual([
      { atMs: T0 + 10 * DAY, key: 'retire:k1', kind: 'credential_retirement', changesState: false, ref: 'k1' },
    ]);
    expect(ofKind(agenda(activeWith()), 'credential_retirement')).toEqual([]);
  });

  it('a pending extension expires one approval timeout after it was requested', () => {
    const s = activeWith({ pendingExtension: { accessUntilMs: T0 + 95 * DAY, reason: 'more time', requestedAtMs: T0 + 3 * DAY } });
    expect(ofKind(agenda(s), 'extension_request_expires')).toEqual([
      { atMs: T0 + 13 * DAY, key: `extension-expires:${T0 + 3 * DAY}`, kind: 'extension_request_expires', changesState: false },
    ]);
  });

  it('the review opens at certifiedAt + recertifyEvery - the largest reminder, keyed by cycle', () => {
    const s = activeWith({ certifiedAtMs: T0 + 10 * DAY, cycle: 3 });
    expect(ofKind(agenda(s), 'recertification_opens')).toEqual([
      { atMs: T0 + 33 * DAY, key: 'recert-opens:3', kind: 'recertification_opens', changesState: true },
    ]);
  });

  it('takes the largest reminder whatever the order of the list', () => {
    const s = activeWith({ policy: { ...policy, recertRemindersMs: [2 * DAY, 7 * DAY, 4 * DAY] } });
    expect(ofKind(agenda(s), 'recertification_opens').map((i) => i.atMs)).toEqual([T0 + 23 * DAY]);
  });

  it('no review when the end of access comes first (opening at or after accessUntil)', () => {
    // opens at T0+23d
    expect(ofKind(agenda(activeWith({ accessUntilMs: T0 + 23 * DAY })), 'recertification_opens')).toEqual([]);
    expect(ofKind(agenda(activeWith({ accessUntilMs: T0 + 20 * DAY })), 'recertification_opens')).toEqual([]);
    expect(ofKind(agenda(activeWith({ accessUntilMs: T0 + 23 * DAY + 1 })), 'recertification_opens')).toHaveLength(1);
  });

  it('a done review opening is not listed again', () => {
    expect(ofKind(agenda(activeWith({ done: ['recert-opens:0'] })), 'recertification_opens')).toEqual([]);
    // a later cycle has its own key
    expect(ofKind(agenda(activeWith({ done: ['recert-opens:0'], cycle: 1 })), 'recertification_opens')).toHaveLength(1);
  });

  it('recertification due: reminders except the largest, then no answer at the due date; no new opening', () => {
    const s = activeWith({ state: 'recertification_due', policy: { ...policy, recertRemindersMs: [7 * DAY, 3 * DAY, 1 * DAY] } });
    const items = agenda(s);
    expect(items.filter((i) => i.kind.startsWith('recertification_'))).toEqual([
      { atMs: T0 + 27 * DAY, key: `recert-reminder:0:${3 * DAY}`, kind: 'recertification_reminder', changesState: false },
      { atMs: T0 + 29 * DAY, key: `recert-reminder:0:${1 * DAY}`, kind: 'recertification_reminder', changesState: false },
      { atMs: T0 + 30 * DAY, key: 'recert-due:0', kind: 'recertification_no_answer', changesState: true },
    ]);
  });

  it('recertification due keeps the access end and warnings, and drops done reminders', () => {
    const s = activeWith({ state: 'recertification_due', cycle: 2, certifiedAtMs: T0, done: [`recert-reminder:2:${2 * DAY}`] });
    expect(keys(agenda(s))).toEqual([
      'access-end',
      `expiry-warning:${T0 + 90 * DAY}:${14 * DAY}`,
      `expiry-warning:${T0 + 90 * DAY}:${1 * DAY}`,
      'recert-due:2',
    ]);
  });

  it('recertification due with a single reminder has no reminders, only the due date', () => {
    const s = activeWith({ state: 'recertification_due', policy: { ...policy, recertRemindersMs: [7 * DAY] } });
    expect(agenda(s).filter((i) => i.kind.startsWith('recertification_')).map((i) => i.kind)).toEqual(['recertification_no_answer']);
  });

  it('suspended: the grace period ends at suspendedAt + grace; no review items', () => {
    const s = activeWith({ state: 'suspended', suspendedAtMs: T0 + 30 * DAY, cycle: 1 });
    expect(agenda(s)).toEqual([
      { atMs: T0 + 90 * DAY, key: 'access-end', kind: 'access_end', changesState: true },
      { atMs: T0 + 76 * DAY, key: `expiry-warning:${T0 + 90 * DAY}:${14 * DAY}`, kind: 'expiry_warning', changesState: false },
      { atMs: T0 + 89 * DAY, key: `expiry-warning:${T0 + 90 * DAY}:${1 * DAY}`, kind: 'expiry_warning', changesState: false },
      { atMs: T0 + 35 * DAY, key: 'suspension-over:1', kind: 'suspension_grace_over', changesState: true },
    ]);
  });

  it('suspended without a suspension time has no grace item', () => {
    expect(ofKind(agenda(activeWith({ state: 'suspended', suspendedAtMs: null })), 'suspension_grace_over')).toEqual([]);
  });

  it('drops every done key in the access phase', () => {
    const all = agenda(
      activeWith({
        plannedOffboarding: { atMs: T0 + 40 * DAY, reason: 'r', by: 'partner:P1' },
        credentials: [{ keyId: 'k1', version: 1, expiresAtMs: T0 + 90 * DAY, retireAtMs: T0 + DAY }],
        pendingExtension: { accessUntilMs: T0 + 95 * DAY, reason: 'x', requestedAtMs: T0 },
      }),
    );
    const s = activeWith({
      plannedOffboarding: { atMs: T0 + 40 * DAY, reason: 'r', by: 'partner:P1' },
      credentials: [{ keyId: 'k1', version: 1, expiresAtMs: T0 + 90 * DAY, retireAtMs: T0 + DAY }],
      pendingExtension: { accessUntilMs: T0 + 95 * DAY, reason: 'x', requestedAtMs: T0 },
      done: keys(all),
    });
    expect(all).toHaveLength(7);
    expect(agenda(s)).toEqual([]);
  });

  it.each(terminal)('is empty in the terminal state %s, whatever else the state holds', (state) => {
    const s = activeWith({
      state,
      suspendedAtMs: T0,
      plannedOffboarding: { atMs: T0 + 40 * DAY, reason: 'r', by: 'partner:P1' },
      pendingExtension: { accessUntilMs: T0 + 95 * DAY, reason: 'x', requestedAtMs: T0 },
      credentials: [{ keyId: 'k1', version: 1, expiresAtMs: T0 + 90 * DAY, retireAtMs: T0 + DAY }],
    });
    expect(agenda(s)).toEqual([]);
    expect(agenda({ ...s, stage: 'sponsor' })).toEqual([]);
  });
});

describe('nextItem', () => {
  const item = (atMs: number, key: string, changesState: boolean): AgendaItem => ({
    atMs,
    key,
    kind: changesState ? 'access_end' : 'expiry_warning',
    changesState,
  });

  it('is undefined for an empty list', () => {
    expect(nextItem([])).toBeUndefined();
  });

  it('picks the earliest item whatever the order', () => {
    expect(nextItem([item(30, 'c', true), item(10, 'a', false), item(20, 'b', true)])?.key).toBe('a');
  });

  it('on a tie the state-changing item wins, in either order', () => {
    expect(nextItem([item(10, 'notice', false), item(10, 'change', true)])?.key).toBe('change');
    expect(nextItem([item(10, 'change', true), item(10, 'notice', false)])?.key).toBe('change');
  });

  it('an earlier notice still beats a later state change', () => {
    expect(nextItem([item(11, 'change', true), item(10, 'notice', false)])?.key).toBe('notice');
  });

  it('does not reorder the list it was given', () => {
    const items = [item(30, 'c', true), item(10, 'a', false)];
    nextItem(items);
    expect(keys(items)).toEqual(['c', 'a']);
  });

  it('agrees with the agenda: the first reminder comes before the escalation', () => {
    expect(nextItem(agenda(stateWith()))?.key).toBe('approval-reminder:sponsor:0');
  });
});

describe('nextDeadline', () => {
  it('pending: the escalation, not the earlier reminders', () => {
    expect(nextDeadline(stateWith())).toEqual({ at: iso(T0 + 5 * DAY), action: 'request escalated to alternates' });
  });

  it('pending and escalated: the request timeout', () => {
    expect(nextDeadline(stateWith({ escalated: true }))).toEqual({ at: iso(T0 + 10 * DAY), action: 'request expires' });
  });

  it('active: the review opening, not the earlier key retirement or extension expiry', () => {
    const s = activeWith({
      credentials: [{ keyId: 'k1', version: 1, expiresAtMs: T0 + 90 * DAY, retireAtMs: T0 + DAY }],
      pendingExtension: { accessUntilMs: T0 + 95 * DAY, reason: 'x', requestedAtMs: T0 },
    });
    expect(nextDeadline(s)).toEqual({ at: iso(T0 + 23 * DAY), action: 'recertification opens' });
  });

  it('active with an earlier planned offboarding', () => {
    const s = activeWith({ plannedOffboarding: { atMs: T0 + 10 * DAY, reason: 'r', by: 'partner:P1' } });
    expect(nextDeadline(s)).toEqual({ at: iso(T0 + 10 * DAY), action: 'planned offboarding' });
  });

  it('active with no review needed: the access end, even though warnings come first', () => {
    const s = activeWith({ accessUntilMs: T0 + 20 * DAY });
    expect(nextDeadline(s)).toEqual({ at: iso(T0 + 20 * DAY), action: 'access ends (offboarded)' });
  });

  it("recertification due with noAnswer 'suspend'", () => {
    const s = activeWith({ state: 'recertification_due' });
    expect(nextDeadline(s)).toEqual({ at: iso(T0 + 30 * DAY), action: 'no recertification answer: access is suspended' });
  });

  it("recertification due with noAnswer 'offboard' says offboarded", () => {
    const s = activeWith({ state: 'recertification_due', policy: { ...policy, noAnswer: 'offboard' } });
    expect(nextDeadline(s)).toEqual({ at: iso(T0 + 30 * DAY), action: 'no recertification answer: access is offboarded' });
  });

  it("noAnswer 'offboard' does not change the text of other deadlines", () => {
    const s = activeWith({ policy: { ...policy, noAnswer: 'offboard' } });
    expect(nextDeadline(s)?.action).toBe('recertification opens');
  });

  it('suspended: the end of the grace period', () => {
    const s = activeWith({ state: 'suspended', suspendedAtMs: T0 + 30 * DAY });
    expect(nextDeadline(s)).toEqual({ at: iso(T0 + 35 * DAY), action: 'suspension grace over (offboarded)' });
  });

  it('skips a done deadline', () => {
    expect(nextDeadline(stateWith({ done: ['approval-escalation:sponsor'] }))).toEqual({ at: iso(T0 + 10 * DAY), action: 'request expires' });
  });

  it.each(terminal)('is null in the terminal state %s', (state) => {
    expect(nextDeadline(activeWith({ state }))).toBeNull();
  });

  it('is null without a policy', () => {
    expect(nextDeadline(activeWith({ policy: null }))).toBeNull();
  });
});

describe('statusOf', () => {
  it('a pending request: stage shown, times as ISO strings', () => {
    expect(statusOf(stateWith())).toEqual({
      partnerId: 'P1',
      state: 'pending_approval',
      stage: 'sponsor',
      escalated: false,
      environment: 'sandbox',
      sponsor: 'alice',
      scopes: ['orders:read', 'catalog:read'],
      accessUntil: '2030-04-01T00:00:00.000Z',
      cycle: 0,
      policyVersion: 'v1',
      nextDeadline: { at: '2030-01-06T00:00:00.000Z', action: 'request escalated to alternates' },
      pendingExtension: null,
      plannedOffboarding: null,
      credentials: [],
      endReason: null,
    });
  });

  it('shows the security stage and the escalation flag while pending', () => {
    const status = statusOf(stateWith({ stage: 'security', escalated: true }));
    expect(status.stage).toBe('security');
    expect(status.escalated).toBe(true);
  });

  it.each(['active', 'recertification_due', 'suspended', 'rejected', 'offboarded'] as PartnerState[])(
    'stage is null in state %s, even if the state still holds one',
    (state) => {
      expect(statusOf(activeWith({ state, stage: 'security' })).stage).toBeNull();
    },
  );

  it('an active partner with an extension request, a planned offboarding and a rotation in progress', () => {
    const s = activeWith({
      cycle: 2,
      pendingExtension: { accessUntilMs: T0 + 95 * DAY, reason: 'more time', requestedAtMs: T0 + 1 * DAY },
      plannedOffboarding: { atMs: T0 + 40 * DAY, reason: 'contract ends', by: 'operator:alice' },
      credentials: [
        { keyId: 'k1', version: 1, expiresAtMs: T0 + 90 * DAY, retireAtMs: T0 + 2 * DAY },
        { keyId: 'k2', version: 2, expiresAtMs: T0 + 90 * DAY },
      ],
    });
    const status = statusOf(s);
    expect(status).toMatchObject({
      state: 'active',
      stage: null,
      cycle: 2,
      accessUntil: '2030-04-01T00:00:00.000Z',
      pendingExtension: { accessUntil: '2030-04-06T00:00:00.000Z', reason: 'more time', requestedAt: '2030-01-02T00:00:00.000Z' },
      plannedOffboarding: { at: '2030-02-10T00:00:00.000Z', reason: 'contract ends', by: 'operator:alice' },
      nextDeadline: { at: '2030-01-24T00:00:00.000Z', action: 'recertification opens' },
    });
    expect(status.credentials).toEqual([
      { keyId: 'k1', version: 1, expiresAt: '2030-04-01T00:00:00.000Z', retireAt: '2030-01-03T00:00:00.000Z' },
      { keyId: 'k2', version: 2, expiresAt: '2030-04-01T00:00:00.000Z' },
    ]);
    expect('retireAt' in status.credentials[1]!).toBe(false);
  });

  it('an ended partner: end reason, no deadline', () => {
    const status = statusOf(activeWith({ state: 'revoked', credentials: [], endReason: 'key leaked' }));
    expect(status).toMatchObject({ state: 'revoked', stage: null, endReason: 'key leaked', nextDeadline: null, credentials: [] });
  });

  it('no policy: no version, no deadline', () => {
    const status = statusOf(stateWith({ policy: null }));
    expect(status.policyVersion).toBeNull();
    expect(status.nextDeadline).toBeNull();
  });

  it('returns a copy of the scopes', () => {
    const s = stateWith();
    const status = statusOf(s);
    status.scopes.push('payments:read');
    expect(s.scopes).toEqual(['orders:read', 'catalog:read']);
  });
});
