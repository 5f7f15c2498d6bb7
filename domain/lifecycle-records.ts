/**
 * What the lifecycle records: transitions, issued keys, notices, usage evidence. Plain data, never
 * secrets; the workflow sends them, its activities carry them, the data layer (schema/repositories/)
 * writes them.
 */
import type { Environment, PartnerState } from './partner-states.js';

export interface ReadModelPatch {
  state?: PartnerState;
  stage?: string | null;
  escalated?: boolean;
  /** the sponsor's operator name (a hand-over) */
  sponsor?: string;
  /** the rate tier (granted at approval, changed later) */
  rateLimitTier?: string;
  /** the operator holding the partner suspended for security; null when lifted */
  suspendedBy?: string | null;
  scopes?: string[];
  accessUntil?: string;
  policyVersion?: string;
  recertCycle?: number;
  lastCertifiedAt?: string | null;
  /** `stage` set once the sponsor approved and security decides next */
  /** `approvedBy`: at the security stage, who approved the sponsor's (the inbox must not offer it to them again) */
  pendingExtension?: { accessUntil: string; reason: string; requestedAt: string; stage?: 'security'; approvedBy?: string } | null;
  plannedOffboarding?: { at: string; reason: string; by: string } | null;
  endReason?: string | null;
  endedAt?: string | null;
  nextDeadline?: { at: string; action: string } | null;
}

export interface TransitionRecord {
  partnerId: string;
  /** per-partner transition sequence, carried across continue-as-new: the idempotency key */
  seq: number;
  /** workflow time of the transition */
  at: string;
  actor: string;
  action: string;
  from: PartnerState;
  to: PartnerState;
  reason?: string;
  patch: ReadModelPatch;
  decision?: {
    /** `recertification`: a security operator's keep or narrow, which is the security stage a grant lacked */
    kind: 'approval' | 'extension' | 'recertification';
    stage: string | null;
    decision: string;
    reason: string;
    scopes?: string[];
    accessUntil?: string;
  };
  recertification?: { cycle: number; decision: string; reason: string; scopes?: string[]; evidence?: UsageEvidence };
  /** revoke these keys (all live keys when `keyIds` is omitted) in the same transaction */
  revokeKeys?: { keyIds?: string[]; reason: string };
  /** set the expiry of every live key to this time (extension, shortened access) */
  credentialsExpireAt?: string;
  /** mark this key as retiring at the given time (rotation) */
  retireKey?: { keyId: string; retireAt: string };
  details?: Record<string, unknown>;
  /** the policy version the workflow acted on (recorded with every decision and recertification) */
  policyVersion?: string;
  /** the notice telling of this transition, written to the outbox in the same transaction (only if the transition is) */
  notice?: NotificationInput;
}

export interface TransitionResult {
  /** false when the row had already moved on (the write was done before, or the API ended it) */
  applied: boolean;
  /** the state the read model holds after the call: `revoked` under a live transition means the
   * API revoked the partner and nothing was written */
  state: PartnerState;
}

export interface IssueCredentialInput {
  partnerId: string;
  version: number;
  environment: Environment;
  expiresAt: string;
  actor: string;
  /** why: `approval` or `rotation` */
  purpose: 'approval' | 'rotation';
}
/**
 * The failure type `issueCredential` throws (non-retryable) when the partner's row has ended,
 * i.e. the API revoked it under the workflow. A type, so the workflow can name it without
 * importing activity code.
 */
export type PartnerEndedFailure = 'PartnerEnded';

export interface IssuedCredential {
  keyId: string;
  prefix: string;
  expiresAt: string;
}

/**
 * The last approval, the partner's first key and the opening of access, written by one activity
 * (`grantAndActivate`): the three records the workflow otherwise writes one after the other. The
 * activation's details and its notice's data gain the key that was issued (its id; the details its
 * prefix and expiry too), which the workflow cannot know when it asks.
 */
export interface GrantAndActivateInput {
  grant: TransitionRecord;
  issue: IssueCredentialInput;
  activation: TransitionRecord;
}

/** The key issued and access opened; or `refused`: the API revoked the partner under the step, and nothing after that point was written. */
export type GrantAndActivateResult = { issued: IssuedCredential } | { refused: 'revoked' };

export interface NotificationInput {
  /** idempotency key: partner + notice sequence */
  id: string;
  partnerId: string;
  kind: string;
  /** `operator:<name>`, `role:<role>` or `partner` */
  recipients: string[];
  message: string;
  data?: Record<string, unknown>;
}

export interface UsageEvidence {
  keys: { keyId: string; prefix: string; lastUsedAt: string | null }[];
  scopesUsed: string[];
  scopesNeverUsed: string[];
}
