import { describe, expect, it } from 'vitest';
import {
  isWaitingOn,
  mayDecideExtension,
  mayDecideStage,
  sponsorSuccessorProblem,
  mayOffboard,
  mayRecertify,
  mayRequestExtension,
  mayRotate,
  maySee,
  maySponsor,
  maySubmitOnBehalf,
  type PartnerFacts,
} from '../../domain/access-rules.js';
import { partnerStates, type Role } from '../../domain/partner-states.js';

const partner = (over: Partial<PartnerFacts> = {}): PartnerFacts => ({
  partnerId: 'P1',
  state: 'pending_approval',
  stage: 'sponsor',
  sponsor: 'alice',
  requestedBy: 'partner',
  escalated: false,
  ...over,
});
const op = (name: string, ...roles: Role[]) => ({ name, roles });
const ok = { ok: true };

describe('mayDecideStage', () => {
  it('stage 1: the sponsor as an approver; any approver once escalated', () => {
    expect(mayDecideStage(op('alice', 'approver'), partner())).toEqual(ok);
    expect(mayDecideStage(op('alice', 'admin'), partner()).ok).toBe(false);
    expect(mayDecideStage(op('bob', 'approver'), partner())).toEqual({ ok: false, reason: 'stage 1 needs the sponsor' });
    expect(mayDecideStage(op('bob', 'approver'), partner({ escalated: true }))).toEqual(ok);
    expect(mayDecideStage(op('bob', 'security'), partner({ escalated: true }))).toEqual({ ok: false, reason: 'stage 1 needs the sponsor or another approver' });
  });

  it('stage 2: a security operator, never one who approved stage 1', () => {
    expect(mayDecideStage(op('sec', 'security'), partner({ stage: 'security' }))).toEqual(ok);
    expect(mayDecideStage(op('alice', 'approver'), partner({ stage: 'security' }))).toEqual({ ok: false, reason: 'stage 2 needs a security operator' });
    expect(mayDecideStage(op('dual', 'approver', 'security'), partner({ stage: 'security', approvedBy: ['operator:dual'] }))).toEqual({
      ok: false,
      reason: 'nobody approves two stages',
    });
  });

  it('never the requester, and only while an approval is pending', () => {
    expect(mayDecideStage(op('alice', 'approver'), partner({ requestedBy: 'operator:alice' }))).toEqual({
      ok: false,
      reason: 'the requester cannot approve their own request',
    });
    expect(mayDecideStage(op('alice', 'approver'), partner({ state: 'active', stage: null })).ok).toBe(false);
  });
});

describe('the sponsor\'s and the partner\'s rules', () => {
  it('extension decisions and recertifications: the sponsor', () => {
    expect(mayDecideExtension(op('alice', 'approver'), partner())).toEqual(ok);
    expect(mayDecideExtension(op('alice', 'admin'), partner()).ok).toBe(false);
    expect(mayDecideExtension(op('sec', 'security'), partner()).ok).toBe(false);
    expect(mayRecertify(op('alice', 'approver'), partner())).toEqual(ok);
    expect(mayRecertify(op('bob', 'approver', 'admin'), partner())).toEqual({ ok: false, reason: 'only the sponsor or security recertifies' });
    expect(mayRecertify(op('sec', 'security'), partner())).toEqual(ok);
    expect(mayRecertify(undefined, partner()).ok).toBe(false);
    // security answering for the sponsor, never of a request it filed (the API's pre-check and the workflow ask this one rule)
    expect(mayRecertify(op('sec', 'security'), partner({ requestedBy: 'operator:sec' }))).toEqual({ ok: false, reason: 'the requester cannot approve their own request' });
    expect(mayRecertify(op('alice', 'approver', 'security'), partner({ requestedBy: 'operator:alice' }))).toEqual(ok); // the sponsor answers for their own grant
  });

  it('offboarding: the partner itself, its sponsor or an admin', () => {
    expect(mayOffboard({ partner: { partnerId: 'P1' } }, partner())).toEqual(ok);
    expect(mayOffboard({ partner: { partnerId: 'P2' } }, partner()).ok).toBe(false);
    expect(mayOffboard({ operator: op('alice', 'approver') }, partner())).toEqual(ok);
    expect(mayOffboard({ operator: op('root', 'admin') }, partner())).toEqual(ok);
    expect(mayOffboard({ operator: op('sec', 'security') }, partner()).ok).toBe(false);
    expect(mayOffboard(null, partner()).ok).toBe(false);
  });

  it('extension requests and rotations: the partner itself only', () => {
    expect(mayRequestExtension({ partnerId: 'P1' }, partner())).toEqual(ok);
    expect(mayRequestExtension({ partnerId: 'P2' }, partner()).ok).toBe(false);
    expect(mayRequestExtension(null, partner()).ok).toBe(false);
    expect(mayRotate({ partnerId: 'P1' }, partner())).toEqual(ok);
    expect(mayRotate(null, partner()).ok).toBe(false);
  });
});

describe('visibility and submission', () => {
  it('security, auditors and admins see all; approvers their own and escalated stage-1 requests', () => {
    for (const role of ['security', 'auditor', 'admin'] as const) expect(maySee(op('x', role), partner({ sponsor: 'y' }))).toBe(true);
    expect(maySee(op('alice', 'approver'), partner({ state: 'offboarded', stage: null }))).toBe(true);
    expect(maySee(op('bob', 'approver'), partner())).toBe(false);
    expect(maySee(op('bob', 'approver'), partner({ escalated: true }))).toBe(true);
    expect(maySee(op('bob', 'approver'), partner({ escalated: true, stage: 'security' }))).toBe(false);
    expect(maySee(op('alice', 'gateway'), partner())).toBe(false);
  });

  it('approvers and admins submit on a partner\'s behalf', () => {
    expect(maySubmitOnBehalf(['approver'])).toBe(true);
    expect(maySubmitOnBehalf(['admin'])).toBe(true);
    expect(maySubmitOnBehalf(['security', 'auditor', 'gateway'])).toBe(false);
  });
});

describe('isWaitingOn (the inbox)', () => {
  const alice = op('alice', 'approver');
  it('an approval stage, a recertification or an extension of the sponsor', () => {
    expect(isWaitingOn(alice, { ...partner(), pendingExtension: false })).toBe(true);
    expect(isWaitingOn(op('sec', 'security'), { ...partner({ stage: 'security' }), pendingExtension: false })).toBe(true);
    const approved = partnerStates.filter((state) => state !== 'pending_approval');
    const waiting = approved.filter((state) => isWaitingOn(alice, { ...partner({ state, stage: null }), pendingExtension: false }));
    expect(waiting).toEqual(['recertification_due', 'suspended']);
    const extension = approved.filter((state) => isWaitingOn(alice, { ...partner({ state, stage: null }), pendingExtension: true }));
    expect(extension).toEqual(['active', 'recertification_due', 'suspended']);
  });

  it('never a request the operator filed, never someone else\'s', () => {
    expect(isWaitingOn(alice, { ...partner({ state: 'recertification_due', stage: null, requestedBy: 'operator:alice' }), pendingExtension: false })).toBe(false);
    expect(isWaitingOn(op('bob', 'approver'), { ...partner({ state: 'recertification_due', stage: null }), pendingExtension: false })).toBe(false);
    expect(isWaitingOn(op('alice', 'security'), { ...partner({ state: 'recertification_due', stage: null }), pendingExtension: false })).toBe(false);
  });
});

describe('sponsor hand-over', () => {
  it('never hands a partner to the operator who requested it, pending or live (they would decide or keep their own grant)', () => {
    for (const state of ['pending_approval', 'active', 'recertification_due'] as const) {
      expect(sponsorSuccessorProblem({ sponsor: 'alice', requestedBy: 'operator:bob', state }, 'bob')).toMatch(/requester/);
    }
    expect(sponsorSuccessorProblem({ sponsor: 'alice', requestedBy: 'partner', state: 'active' }, 'bob')).toBeNull();
  });

  it('names as sponsor (at submission or hand-over) an active approver only', () => {
    expect(maySponsor('bob', ['approver'])).toEqual({ ok: true });
    expect(maySponsor('bob', ['security', 'admin'])).toEqual({ ok: false, reason: 'sponsor bob is not an active approver' });
    // no active operator of that name
    expect(maySponsor('nobody', undefined).ok).toBe(false);
  });
});
