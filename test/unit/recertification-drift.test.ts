/**
 * A recertification answer held against today's policy (workflows/rules.ts checkRecertificationDrift):
 * which answers today's policy refuses, the way out each refusal names, and when a security
 * operator's answer is the missing stage.
 */
import { describe, expect, it } from 'vitest';
import type { Actor, RecertificationInput } from '../../workflows/messages.js';
import { checkRecertification, checkRecertificationDrift } from '../../workflows/rules.js';
import { initialState, type LifecyclePolicy, type LifecycleState } from '../../workflows/state.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const H = 3_600_000;
const today: LifecyclePolicy = {
  version: 'sha256:today',
  securityApproval: 'high-risk',
  scopeRisk: { 'orders:read': 'high', 'catalog:read': 'low' }, // orders:read was low; reports:read is gone
  maxAccessMs: 24 * H,
  approvalTimeoutMs: H,
  approvalRemindersMs: [],
  escalateAfterMs: H,
  recertifyEveryMs: H,
  recertRemindersMs: [H / 2],
  noAnswer: 'suspend',
  suspendedGraceMs: H,
  expiryWarningsMs: [],
  rotationOverlapMs: H,
  rateLimitTiers: ['standard'],
  defaultRateLimitTier: 'standard',
};
/** a grant approved by its sponsor alone, under a policy that rated every one of its scopes low */
function grant(scopes: string[], overrides: Partial<LifecycleState> = {}): LifecycleState {
  const s = initialState(
    'P1',
    { environment: 'sandbox', sponsor: 'alice', requestedBy: 'partner:P1', scopes, accessUntil: new Date(T0 + 12 * H).toISOString(), submittedAt: new Date(T0).toISOString() },
    T0,
  );
  return { ...s, state: 'recertification_due', stage: null, stages: ['sponsor'], approvedBy: ['operator:alice'], grantedAtMs: T0, ...overrides };
}
const op = (name: string, ...roles: ('approver' | 'security')[]): Actor => ({ kind: 'operator', name, roles });
const answer = (actor: Actor, decision: RecertificationInput['decision'], scopes?: string[]): RecertificationInput => ({ decision, reason: 'r', actor, ...(scopes ? { scopes } : {}) });
const alice = op('alice', 'approver');
const sec = op('sec', 'security');

describe('a recertification answer against today\'s policy', () => {
  it('a grant today\'s policy still gives: the sponsor\'s answer goes through; security\'s is not its to give', () => {
    expect(checkRecertificationDrift(grant(['catalog:read']), answer(alice, 'keep'), today)).toBeNull();
    // security answers only as the stage a drifted grant lacks, never in the sponsor's place
    expect(checkRecertificationDrift(grant(['catalog:read']), answer(sec, 'keep'), today)).toEqual({ type: 'ForbiddenActor', message: expect.stringContaining('only the sponsor answers this review') });
  });

  it('a scope gone from the catalogue: keep refused with what remains; narrow to it allowed; revoke always', () => {
    const s = grant(['catalog:read', 'reports:read']);
    const refused = checkRecertificationDrift(s, answer(alice, 'keep'), today);
    expect(refused).toEqual({ type: 'PolicyDrift', message: expect.stringContaining('reports:read no longer in the catalogue of policy sha256:today') });
    expect(refused!.message).toContain('narrow to catalog:read or revoke');
    // security's keep does not bring a scope back into the catalogue
    expect(checkRecertificationDrift(s, answer(sec, 'keep'), today)?.type).toBe('PolicyDrift');
    expect(checkRecertificationDrift(s, answer(alice, 'narrow', ['catalog:read']), today)).toBeNull();
    expect(checkRecertificationDrift(grant(['reports:read']), answer(alice, 'keep'), today)!.message).toMatch(/refused; revoke$/);
    expect(checkRecertificationDrift(s, answer(alice, 'revoke'), today)).toBeNull();
  });

  it('a scope that became high-risk: the sponsor\'s keep is refused; narrow to the low-risk ones, or security keeps it', () => {
    const s = grant(['catalog:read', 'orders:read']);
    const refused = checkRecertificationDrift(s, answer(alice, 'keep'), today);
    expect(refused?.type).toBe('PolicyDrift');
    expect(refused!.message).toBe(
      'policy sha256:today requires the security stage for orders:read, which this grant never had: narrow to catalog:read or have a security operator (not the sponsor) keep it',
    );
    expect(checkRecertificationDrift(s, answer(alice, 'narrow', ['catalog:read']), today)).toBeNull();
    expect(checkRecertificationDrift(s, answer(alice, 'narrow', ['orders:read']), today)?.type).toBe('PolicyDrift');
    expect(checkRecertificationDrift(s, answer(sec, 'keep'), today)).toBeNull();
    // four eyes: a sponsor who is also security is not the security stage of its own grant
    expect(checkRecertificationDrift(s, answer(op('alice', 'approver', 'security'), 'keep'), today)?.type).toBe('PolicyDrift');
  });

  it('a grant that had the security stage (at approval, or a security operator\'s earlier keep) keeps it', () => {
    expect(checkRecertificationDrift(grant(['orders:read'], { stages: ['sponsor', 'security'] }), answer(alice, 'keep'), today)).toBeNull();
    expect(checkRecertificationDrift(grant(['orders:read'], { securityKeptBy: 'operator:sec' }), answer(alice, 'keep'), today)).toBeNull();
  });

  it('security answers for the sponsor, but never of a request it filed', () => {
    expect(checkRecertification(grant(['orders:read']), answer(sec, 'keep'))).toBeNull();
    expect(checkRecertification(grant(['orders:read'], { requestedBy: 'operator:sec' }), answer(sec, 'keep'))?.type).toBe('ForbiddenActor');
    expect(checkRecertification(grant(['orders:read']), answer(op('bob', 'approver'), 'keep'))?.type).toBe('ForbiddenActor');
  });

  it('security for every grant of the environment: nothing to narrow to', () => {
    const message = checkRecertificationDrift(grant(['catalog:read']), answer(alice, 'keep'), { ...today, securityApproval: 'always' })!.message;
    expect(message).toBe('policy sha256:today requires the security stage for every grant in sandbox, which this grant never had: have a security operator (not the sponsor) keep it');
  });

  it('an end beyond today\'s maxAccess is shown, not refused', () => {
    expect(checkRecertificationDrift(grant(['catalog:read']), answer(alice, 'keep'), { ...today, maxAccessMs: H })).toBeNull();
  });
});
