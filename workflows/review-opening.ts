/**
 * What a recertification review opens with: the record of `recertification.opened` as the
 * workflow words it, completed with the facts read when it opens (the usage evidence, and the
 * grant held to today's policy). Pure and shared: the workflow applies it to the facts it read
 * itself (runs recorded before the review opened in one step), the `openReview` activity to the
 * facts it reads, so both write the same record.
 */
import type { TransitionRecord, TransitionResult, UsageEvidence } from '../domain/lifecycle-records.js';
import type { DriftFinding } from '../domain/policy-drift.js';
import type { Environment } from './messages.js';
import { grantDriftUnder, type GrantUnderReview, type LifecyclePolicy } from './state.js';

export interface ReviewDrift {
  policyVersion: string;
  findings: DriftFinding[];
}

/** What today's policy would not grant of the grant under review. */
export function reviewDriftOf(grant: GrantUnderReview, today: LifecyclePolicy): ReviewDrift {
  return { policyVersion: today.version, findings: grantDriftUnder(grant, today) };
}

/** The parts of an opening the facts go into: a transition's options or its record. */
interface Opening {
  details?: Record<string, unknown>;
  notice?: { recipients: string[]; data?: Record<string, unknown> };
}

/**
 * The opening with its facts: the drift in the record's details, the evidence and the drift in
 * the notice's data. A grant that now needs the security stage is kept only by security, so
 * security hears of the review too. Without `drift`: a run recorded before reviews were held to
 * today's policy.
 */
export function withReviewFacts<T extends Opening>(opening: T, evidence: UsageEvidence, drift?: ReviewDrift): T {
  const needsSecurity = drift?.findings.some((f) => f.rule === 'security_stage_missing') ? ['role:security'] : [];
  const found = drift ? { drift } : {};
  const { notice } = opening;
  return {
    ...opening,
    details: { ...opening.details, ...found },
    ...(notice ? { notice: { ...notice, recipients: [...notice.recipients, ...needsSecurity], data: { ...notice.data, evidence, ...found } } } : {}),
  };
}

/**
 * A recertification review's opening, written by one activity (`openReview`): it reads the usage
 * evidence and today's policy, holds the grant to that policy and writes `recertification.opened`
 * completed with what it found (`withReviewFacts` above), its notice in the same transaction.
 * The workflow cannot word the drift before the policy is read, so it sends the record as far as
 * it knows it and the grant.
 */
export interface OpenReviewInput {
  opening: TransitionRecord;
  grant: GrantUnderReview;
  environment: Environment;
}

/** What was written (as `applyTransition` answers), and the policy the review is held to. */
export interface OpenReviewResult {
  written: TransitionResult;
  policy: LifecyclePolicy;
}
