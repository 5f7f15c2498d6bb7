/**
 * A recertification answer held against today's policy (workflows/rules.ts checkRecertificationDrift):
 * which answers today's policy refuses, the way out each refusal names, and when a security
 * operator's answer is the missing stage; and what a review opens with (workflows/review-opening.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Actor, RecertificationInput } from '../../workflows/messages.js';
import { checkRecertification, checkRecertificationDrift } from '../../workflows/rules.js';
import { reviewDriftOf, withReviewFacts } from '../../workflows/review-opening.js';
import { grantUnderReview, initialState, type LifecyclePolicy, type LifecycleState } from '../../workflows/state.js';

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

describe('what a review opens with (workflows/review-opening.ts)', () => {
  const evidence = { keys: [], scopesUsed: ['catalog:read'], scopesNeverUsed: [] };
  const opening = {
    details: { cycle: 1, dueAt: 'D' },
    notice: { kind: 'recertification.due', recipients: ['operator:alice'], message: 'm', data: { cycle: 1, dueAt: 'D' } },
  };

  it('the grant handed to the activity is judged exactly as the whole state is', () => {
    // the slice must carry every fact the rule reads: each of these grants drifts on a different one
    const grants = [
      grant(['catalog:read', 'reports:read']),
      grant(['orders:read']),
      grant(['orders:read'], { securityKeptBy: 'operator:sec' }),
      grant(['catalog:read'], { grantedAtMs: T0 - 20 * H }),
      grant(['catalog:read'], { rateLimitTier: 'gold' }),
      grant(['catalog:read'], { policy: { ...today, defaultRateLimitTier: 'bronze' } }),
    ];
    const judged = grants.map((s) => reviewDriftOf(s, today).findings.map((f) => f.rule));
    // (a scope the catalogue no longer knows is rated high: its grant lacks the security stage too)
    expect(judged).toEqual([['scope_not_in_catalogue', 'security_stage_missing'], ['security_stage_missing'], [], ['beyond_max_access'], ['tier_not_in_policy'], ['tier_not_in_policy']]);
    for (const s of grants) expect(reviewDriftOf(grantUnderReview(s), today)).toEqual(reviewDriftOf(s, today));
    // and it survives the trip through a payload
    for (const s of grants) expect(reviewDriftOf(JSON.parse(JSON.stringify(grantUnderReview(s))), today)).toEqual(reviewDriftOf(s, today));
  });

  it('a grant today\'s policy would not give without security: security hears of the review, the drift goes in the record and the notice', () => {
    const drift = reviewDriftOf(grant(['orders:read']), today);
    const opened = withReviewFacts(opening, evidence, drift);
    expect(opened.notice.recipients).toEqual(['operator:alice', 'role:security']);
    expect(opened.details).toEqual({ cycle: 1, dueAt: 'D', drift });
    expect(opened.notice.data).toEqual({ cycle: 1, dueAt: 'D', evidence, drift });
    // the opening as worded is left as it was
    expect(opening.notice.recipients).toEqual(['operator:alice']);
  });

  it('other drift, or none: only the sponsor is told; a run from before the drift check opens with the evidence alone', () => {
    const drift = reviewDriftOf(grant(['catalog:read'], { rateLimitTier: 'gold', grantedAtMs: T0 - 20 * H }), today);
    expect(drift.findings.map((f) => f.rule)).toEqual(['beyond_max_access', 'tier_not_in_policy']);
    expect(withReviewFacts(opening, evidence, drift).notice.recipients).toEqual(['operator:alice']);
    expect(withReviewFacts(opening, evidence, reviewDriftOf(grant(['catalog:read']), today)).notice.recipients).toEqual(['operator:alice']);
    const before = withReviewFacts(opening, evidence);
    expect(before.details).toEqual({ cycle: 1, dueAt: 'D' });
    expect(before.notice.data).toEqual({ cycle: 1, dueAt: 'D', evidence });
  });
});
