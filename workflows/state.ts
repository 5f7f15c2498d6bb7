/**
 * The lifecycle's state and its agenda: pure, deterministic functions of state and workflow time.
 * Everything here is carried across continue-as-new, so it holds only plain data.
 */
import { isLive } from '../domain/partner-states.js';
import { grantDrift, type DriftFinding, type GrantFacts, type TodaysPolicy } from '../domain/policy-drift.js';
import type { ApprovalStage, Environment, LifecycleStatus, PartnerState, RevocationInput, Submission } from './messages.js';

/** The slice of the policy file one partner's workflow needs, durations in milliseconds. */
export interface LifecyclePolicy {
  version: string;
  securityApproval: 'always' | 'high-risk';
  scopeRisk: Record<string, 'low' | 'high'>;
  maxAccessMs: number;
  approvalTimeoutMs: number;
  /** offsets after a stage opens */
  approvalRemindersMs: number[];
  escalateAfterMs: number;
  recertifyEveryMs: number;
  /** offsets before the due date; the largest one opens the review */
  recertRemindersMs: number[];
  noAnswer: 'suspend' | 'offboard';
  suspendedGraceMs: number;
  /** offsets before the access end */
  expiryWarningsMs: number[];
  rotationOverlapMs: number;
  /** the policy approves a request whose scopes are all low-risk by itself (absent: never) */
  autoApprove?: 'low-risk';
  /** the rate tiers' names, the default, and those an approver may grant (absent in policies recorded before tiers were decisions) */
  rateLimitTiers?: string[];
  defaultRateLimitTier?: string;
  approverRateLimitTiers?: string[];
}

export interface HeldCredential {
  keyId: string;
  version: number;
  expiresAtMs: number;
  /** set while the key is being replaced */
  retireAtMs?: number;
}

export interface LifecycleState {
  partnerId: string;
  environment: Environment;
  sponsor: string;
  requestedBy: string;
  state: PartnerState;
  scopes: string[];
  accessUntilMs: number;
  /** when accessUntil was last set: expiry warnings older than this are not sent */
  accessWindowSetAtMs: number;
  stage: ApprovalStage | null;
  stages: ApprovalStage[];
  stageOpenedAtMs: number;
  escalated: boolean;
  /** operator labels that approved a stage, in order */
  approvedBy: string[];
  policy: LifecyclePolicy | null;
  /** transitions written to the read model: the idempotency key of each write */
  seq: number;
  /** notifications sent: the idempotency key of each notice */
  notices: number;
  credentialVersion: number;
  credentials: HeldCredential[];
  cycle: number;
  certifiedAtMs: number;
  /**
   * when the grant was approved (the key first issued): extensions count the policy's maximum
   * access from here. Absent in workflows activated before it existed: they count from their last
   * certification.
   */
  grantedAtMs?: number;
  suspendedAtMs: number | null;
  /**
   * Set while security holds the partner suspended (state `suspended`): who, since when, and
   * the state a resumption returns to. Distinct from the suspension for an unanswered review
   * (`suspendedAtMs`): no grace countdown runs, and the review clock keeps its dates. Absent in
   * workflows activated before it existed.
   */
  securityHold?: { by: string; atMs: number; resumeTo: 'active' | 'recertification_due' } | null;
  /**
   * An extension request waiting for its decision. `stage` `security` once the sponsor approved and
   * the grant needs security too (`approvedBy`: the sponsor's label, `accessUntilMs` the end it
   * approved); absent means the sponsor's stage.
   */
  pendingExtension: { accessUntilMs: number; reason: string; requestedAtMs: number; stage?: ApprovalStage; approvedBy?: string } | null;
  plannedOffboarding: { atMs: number; reason: string; by: string } | null;
  /** the rate tier granted (at approval, or changed later by security or an admin); absent: the policy's default */
  rateLimitTier?: string;
  /**
   * Today's policy as loaded for the open review (when it opened, again at each answer): the
   * validator holds a `keep` against it. Cleared when the cycle is answered. Absent in workflows
   * whose review opened before the drift check (the validator then holds the answer against `policy`).
   */
  reviewPolicy?: LifecyclePolicy | null;
  /** the security operator whose recertification `keep` or `narrow` gave the grant the security stage its approval lacked */
  securityKeptBy?: string;
  /** agenda items already handled (reminders, warnings), keyed so they never fire twice */
  done: string[];
  revocation: RevocationInput | null;
  endReason: string | null;
}

export function initialState(partnerId: string, submission: Submission, nowMs: number): LifecycleState {
  return {
    partnerId,
    environment: submission.environment,
    sponsor: submission.sponsor,
    requestedBy: submission.requestedBy,
    state: 'pending_approval',
    scopes: [...submission.scopes],
    accessUntilMs: Date.parse(submission.accessUntil),
    accessWindowSetAtMs: nowMs,
    stage: 'sponsor',
    stages: ['sponsor'],
    stageOpenedAtMs: nowMs,
    escalated: false,
    approvedBy: [],
    policy: null,
    seq: 0,
    notices: 0,
    credentialVersion: 0,
    credentials: [],
    cycle: 0,
    certifiedAtMs: nowMs,
    suspendedAtMs: null,
    securityHold: null,
    pendingExtension: null,
    plannedOffboarding: null,
    done: [],
    revocation: null,
    endReason: null,
  };
}

/** Does the policy approve this request by itself? Only where it says so, and only for low-risk scopes. */
export function autoApproves(policy: LifecyclePolicy, scopes: string[]): boolean {
  return policy.autoApprove === 'low-risk' && policy.securityApproval !== 'always' && scopes.every((scope) => policy.scopeRisk[scope] === 'low');
}

export function requiredStages(policy: LifecyclePolicy, scopes: string[]): ApprovalStage[] {
  const risky = scopes.some((scope) => policy.scopeRisk[scope] !== 'low');
  return policy.securityApproval === 'always' || risky ? ['sponsor', 'security'] : ['sponsor'];
}

/**
 * One environment's policy as the drift rules (domain/policy-drift.ts) hold a grant against it:
 * the catalogue is every scope the policy rates, the stages are `requiredStages`. Shared by the
 * workflow's recertification check and the API's views of drift, so both ask the same question.
 */
export function todaysPolicy(policy: LifecyclePolicy, scopes: string[]): TodaysPolicy {
  return {
    catalogue: new Set(Object.keys(policy.scopeRisk)),
    stagesRequired: requiredStages(policy, scopes),
    maxAccessMs: policy.maxAccessMs,
    tiers: new Set(policy.rateLimitTiers ?? []),
  };
}

/** The stages a live grant holds: its approval's, and security's if a security operator kept it at a recertification. */
export function heldStages(s: Pick<LifecycleState, 'stages' | 'securityKeptBy'>): ApprovalStage[] {
  return s.securityKeptBy && !s.stages.includes('security') ? [...s.stages, 'security'] : [...s.stages];
}

/**
 * The part of the lifecycle state a grant's drift is judged on (`grantDriftUnder`): small enough to
 * hand to the activity that opens a review (`openReview`), which judges it against the policy it reads.
 */
export type GrantUnderReview = Pick<LifecycleState, 'scopes' | 'accessUntilMs' | 'grantedAtMs' | 'stages' | 'securityKeptBy' | 'rateLimitTier'> & {
  /** the policy the grant was approved under: only its default tier is asked */
  policy: Pick<LifecyclePolicy, 'defaultRateLimitTier'> | null;
};

export function grantUnderReview(s: LifecycleState): GrantUnderReview {
  const { scopes, accessUntilMs, grantedAtMs, stages, securityKeptBy, rateLimitTier, policy } = s;
  return { scopes, accessUntilMs, grantedAtMs, stages, securityKeptBy, rateLimitTier, policy: policy && { defaultRateLimitTier: policy.defaultRateLimitTier } };
}

/**
 * What today's policy would not grant of the workflow's grant (or of the narrower `scopes` an answer
 * keeps). `asSecurity`: the answer is a security operator's, which is the security stage.
 */
export function grantDriftUnder(s: GrantUnderReview, today: LifecyclePolicy, scopes: string[] = s.scopes, asSecurity = false): DriftFinding[] {
  const held = heldStages(s);
  const facts: GrantFacts = {
    scopes,
    accessUntil: new Date(s.accessUntilMs).toISOString(),
    grantedAt: s.grantedAtMs === undefined ? null : new Date(s.grantedAtMs).toISOString(),
    approvedStages: asSecurity && !held.includes('security') ? [...held, 'security'] : held,
    // a grant recorded before tiers were decisions has the default tier of its environment
    rateLimitTier: s.rateLimitTier ?? s.policy?.defaultRateLimitTier ?? today.defaultRateLimitTier ?? '',
  };
  return grantDrift(facts, todaysPolicy(today, scopes));
}

/**
 * One thing the workflow will do at a point in time. `changesState` items are what the API shows
 * as the partner's next deadline; the rest are notices.
 */
export interface AgendaItem {
  atMs: number;
  key: string;
  kind:
    | 'approval_reminder'
    | 'approval_escalation'
    | 'approval_timeout'
    | 'access_end'
    | 'planned_offboarding'
    | 'expiry_warning'
    | 'recertification_opens'
    | 'recertification_reminder'
    | 'recertification_no_answer'
    | 'suspension_grace_over'
    | 'credential_retirement'
    | 'extension_request_expires';
  changesState: boolean;
  /** extra data for the item: the key id to retire, the offset of a reminder */
  ref?: string;
}

export function recertificationDueAtMs(s: LifecycleState, p: LifecyclePolicy): number {
  return s.certifiedAtMs + p.recertifyEveryMs;
}

export function agenda(s: LifecycleState): AgendaItem[] {
  const p = s.policy;
  if (!p) return [];
  const items: AgendaItem[] = [];
  const notDone = (item: AgendaItem) => !s.done.includes(item.key);

  if (s.state === 'pending_approval' && s.stage) {
    const opened = s.stageOpenedAtMs;
    p.approvalRemindersMs.forEach((offset, i) =>
      items.push({ atMs: opened + offset, key: `approval-reminder:${s.stage}:${i}`, kind: 'approval_reminder', changesState: false }),
    );
    if (!s.escalated) {
      items.push({ atMs: opened + p.escalateAfterMs, key: `approval-escalation:${s.stage}`, kind: 'approval_escalation', changesState: true });
    }
    items.push({ atMs: opened + p.approvalTimeoutMs, key: `approval-timeout:${s.stage}`, kind: 'approval_timeout', changesState: true });
    return items.filter(notDone);
  }
  if (!isLive(s.state)) return [];

  items.push({ atMs: s.accessUntilMs, key: 'access-end', kind: 'access_end', changesState: true });
  if (s.plannedOffboarding) {
    items.push({ atMs: s.plannedOffboarding.atMs, key: 'planned-offboarding', kind: 'planned_offboarding', changesState: true });
  }
  for (const offset of p.expiryWarningsMs) {
    const atMs = s.accessUntilMs - offset;
    if (atMs >= s.accessWindowSetAtMs) {
      items.push({ atMs, key: `expiry-warning:${s.accessUntilMs}:${offset}`, kind: 'expiry_warning', changesState: false });
    }
  }
  for (const credential of s.credentials) {
    if (credential.retireAtMs !== undefined) {
      items.push({
        atMs: credential.retireAtMs,
        key: `retire:${credential.keyId}`,
        kind: 'credential_retirement',
        changesState: false,
        ref: credential.keyId,
      });
    }
  }
  if (s.pendingExtension) {
    items.push({
      atMs: s.pendingExtension.requestedAtMs + p.approvalTimeoutMs,
      key: `extension-expires:${s.pendingExtension.requestedAtMs}`,
      kind: 'extension_request_expires',
      changesState: false,
    });
  }

  const dueAtMs = recertificationDueAtMs(s, p);
  const firstReminder = Math.max(...p.recertRemindersMs);
  const opensAtMs = dueAtMs - firstReminder;
  // No review is needed for a cycle that the end of access cuts off first.
  const reviewNeeded = opensAtMs < s.accessUntilMs;
  if (s.state === 'active' && reviewNeeded) {
    items.push({ atMs: opensAtMs, key: `recert-opens:${s.cycle}`, kind: 'recertification_opens', changesState: true });
  }
  if (s.state === 'recertification_due') {
    for (const offset of p.recertRemindersMs) {
      if (offset === firstReminder) continue;
      items.push({
        atMs: dueAtMs - offset,
        key: `recert-reminder:${s.cycle}:${offset}`,
        kind: 'recertification_reminder',
        changesState: false,
      });
    }
    items.push({ atMs: dueAtMs, key: `recert-due:${s.cycle}`, kind: 'recertification_no_answer', changesState: true });
  }
  if (s.state === 'suspended' && s.suspendedAtMs !== null) {
    items.push({
      atMs: s.suspendedAtMs + p.suspendedGraceMs,
      key: `suspension-over:${s.cycle}`,
      kind: 'suspension_grace_over',
      changesState: true,
    });
  }
  return items.filter(notDone);
}

/** The earliest agenda item; ties go to state changes so a reminder never delays an end. */
export function nextItem(items: AgendaItem[]): AgendaItem | undefined {
  return [...items].sort((a, b) => a.atMs - b.atMs || Number(b.changesState) - Number(a.changesState))[0];
}

const deadlineActions: Record<AgendaItem['kind'], string> = {
  approval_reminder: 'approver reminded',
  approval_escalation: 'request escalated to alternates',
  approval_timeout: 'request expires',
  access_end: 'access ends (offboarded)',
  planned_offboarding: 'planned offboarding',
  expiry_warning: 'partner warned of access end',
  recertification_opens: 'recertification opens',
  recertification_reminder: 'sponsor reminded to recertify',
  recertification_no_answer: 'no recertification answer: access is suspended',
  suspension_grace_over: 'suspension grace over (offboarded)',
  credential_retirement: 'old key retired',
  extension_request_expires: 'extension request expires',
};

export function nextDeadline(s: LifecycleState): { at: string; action: string } | null {
  const item = nextItem(agenda(s).filter((i) => i.changesState));
  if (!item) return null;
  const action =
    item.kind === 'recertification_no_answer' && s.policy?.noAnswer === 'offboard'
      ? 'no recertification answer: access is offboarded'
      : deadlineActions[item.kind];
  return { at: new Date(item.atMs).toISOString(), action };
}

export function statusOf(s: LifecycleState): LifecycleStatus {
  return {
    partnerId: s.partnerId,
    state: s.state,
    stage: s.state === 'pending_approval' ? s.stage : null,
    escalated: s.escalated,
    environment: s.environment,
    sponsor: s.sponsor,
    scopes: [...s.scopes],
    accessUntil: new Date(s.accessUntilMs).toISOString(),
    cycle: s.cycle,
    policyVersion: s.policy?.version ?? null,
    nextDeadline: nextDeadline(s),
    pendingExtension: s.pendingExtension
      ? {
          accessUntil: new Date(s.pendingExtension.accessUntilMs).toISOString(),
          reason: s.pendingExtension.reason,
          requestedAt: new Date(s.pendingExtension.requestedAtMs).toISOString(),
        }
      : null,
    plannedOffboarding: s.plannedOffboarding
      ? { at: new Date(s.plannedOffboarding.atMs).toISOString(), reason: s.plannedOffboarding.reason, by: s.plannedOffboarding.by }
      : null,
    credentials: s.credentials.map((c) => ({
      keyId: c.keyId,
      version: c.version,
      expiresAt: new Date(c.expiresAtMs).toISOString(),
      ...(c.retireAtMs !== undefined ? { retireAt: new Date(c.retireAtMs).toISOString() } : {}),
    })),
    endReason: s.endReason,
  };
}
