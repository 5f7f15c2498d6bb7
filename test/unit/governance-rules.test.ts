/** The workflow's rules for security's suspension and the sponsor hand-over (issue #16), pure. */
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../workflows/messages.js';
import { checkRecertification, checkResumption, checkSponsorChange, checkSuspension } from '../../workflows/rules.js';
import { agenda, autoApproves, initialState, type LifecycleState } from '../../workflows/state.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const S = 1000;
const policy = {
  version: 'sha256:test',
  securityApproval: 'high-risk' as const,
  scopeRisk: { 'orders:read': 'low' as const },
  maxAccessMs: 1000 * S,
  approvalTimeoutMs: 60 * S,
  approvalRemindersMs: [],
  escalateAfterMs: 30 * S,
  recertifyEveryMs: 100 * S,
  recertRemindersMs: [20 * S],
  noAnswer: 'suspend' as const,
  suspendedGraceMs: 50 * S,
  expiryWarningsMs: [],
  rotationOverlapMs: 10 * S,
};
function state(overrides: Partial<LifecycleState> = {}): LifecycleState {
  const s = initialState(
    'P1',
    { environment: 'sandbox', sponsor: 'alice', requestedBy: 'operator:carol', scopes: ['orders:read'], accessUntil: new Date(T0 + 500 * S).toISOString(), submittedAt: new Date(T0).toISOString() },
    T0,
  );
  return { ...s, policy, state: 'active', stage: null, ...overrides };
}
const op = (name: string, ...roles: ('approver' | 'security' | 'admin' | 'auditor')[]): Actor => ({ kind: 'operator', name, roles });
const hold = { by: 'operator:sec', atMs: T0, resumeTo: 'active' as const };
const sec = op('sec', 'security');

describe('suspension by security', () => {
  it('security only, of a partner whose keys are accepted, once', () => {
    expect(checkSuspension(state(), { reason: 'r', actor: sec })).toBeNull();
    expect(checkSuspension(state({ state: 'recertification_due' }), { reason: 'r', actor: sec })).toBeNull();
    expect(checkSuspension(state(), { reason: 'r', actor: op('root', 'admin') })?.type).toBe('ForbiddenActor');
    expect(checkSuspension(state(), { reason: 'r', actor: { kind: 'partner', partnerId: 'P1' } })?.type).toBe('ForbiddenActor');
    expect(checkSuspension(state({ state: 'pending_approval' }), { reason: 'r', actor: sec })?.type).toBe('NotAllowedInState');
    expect(checkSuspension(state({ state: 'suspended', suspendedAtMs: T0 }), { reason: 'r', actor: sec })?.message).toContain('recertification not answered');
    expect(checkSuspension(state({ state: 'suspended', securityHold: hold }), { reason: 'r', actor: sec })?.message).toContain('already suspended by security');
  });

  it('resumes only its own hold; the sponsor cannot answer under it; no grace countdown runs under it', () => {
    expect(checkResumption(state({ state: 'suspended', securityHold: hold }), { reason: 'r', actor: sec })).toBeNull();
    expect(checkResumption(state({ state: 'suspended', suspendedAtMs: T0 }), { reason: 'r', actor: sec })?.type).toBe('NotAllowedInState');
    expect(checkResumption(state(), { reason: 'r', actor: sec })?.type).toBe('NotAllowedInState');
    const held = state({ state: 'suspended', securityHold: hold });
    expect(checkRecertification(held, { decision: 'keep', reason: 'r', actor: op('alice', 'approver') })?.message).toContain('resumed first');
    expect(agenda(held).map((i) => i.kind)).toEqual(['access_end']);
  });
});

describe('sponsor hand-over', () => {
  it('admin or security; to someone else than the sponsor; never the requester (pending or live: they would keep their own grant); not after the end', () => {
    const to = (sponsor: string, actor: Actor, s = state()) => checkSponsorChange(s, { sponsor, reason: 'r', actor });
    expect(to('bob', op('root', 'admin'))).toBeNull();
    expect(to('bob', sec)).toBeNull();
    expect(to('bob', op('alice', 'approver'))?.type).toBe('ForbiddenActor');
    expect(to('bob', op('aud', 'auditor'))?.type).toBe('ForbiddenActor');
    expect(to('alice', sec)?.type).toBe('InvalidRequest');
    expect(to('carol', sec, state({ state: 'pending_approval', stage: 'sponsor' }))?.message).toContain('requester');
    expect(to('carol', sec)?.message).toContain('requester');
    expect(to('bob', sec, state({ state: 'offboarded' }))?.type).toBe('NotAllowedInState');
  });
});

describe('auto-approval in the policy file', () => {
  it('only beside securityApproval "high-risk"; only low-risk scopes; absent means never', async () => {
    const { parsePolicy, PolicyError, toLifecyclePolicy } = await import('../../config/policy.js');
    const fs = await import('node:fs');
    const raw = JSON.parse(fs.readFileSync(new URL('../fixtures/policy.fast.json', import.meta.url), 'utf8'));
    raw.environments.sandbox.autoApprove = { scopes: 'low-risk' };
    const parsed = parsePolicy(raw);
    const sandbox = toLifecyclePolicy(parsed, 'sandbox');
    expect(autoApproves(sandbox, ['orders:read'])).toBe(true);
    expect(autoApproves(sandbox, ['orders:read', 'payments:read'])).toBe(false);
    expect(autoApproves(toLifecyclePolicy(parsed, 'production'), ['orders:read'])).toBe(false);
    expect('autoApprove' in toLifecyclePolicy(parsed, 'production')).toBe(false);
    raw.environments.production.autoApprove = { scopes: 'low-risk' };
    expect(() => parsePolicy(raw)).toThrow(PolicyError); // production's securityApproval is "always"
    raw.environments.production.autoApprove = { scopes: 'everything' };
    expect(() => parsePolicy(raw)).toThrow(PolicyError);
  });
});
