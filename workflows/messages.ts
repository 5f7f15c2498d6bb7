/**
 * The lifecycle's message contract, shared by the workflow and its callers (API, tests). Importing
 * this module pulls in only the message definitions, never the workflow code.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

// The vocabulary lives in domain/partner-states.ts; re-exported here for the workflow's callers.
import type { ApprovalStage, Environment, PartnerState, Role } from '../domain/partner-states.js';
export { roles, terminalStates } from '../domain/partner-states.js';
export type { ApprovalStage, Environment, PartnerState, Role };

/** Who is acting. Operators carry their roles; the partner acts with its request token or key. */
export type Actor =
  | { kind: 'operator'; name: string; roles: Role[] }
  | { kind: 'partner'; partnerId: string }
  | { kind: 'system'; name: string };

export const actorLabel = (actor: Actor): string =>
  actor.kind === 'operator' ? `operator:${actor.name}` : actor.kind === 'partner' ? `partner:${actor.partnerId}` : `system:${actor.name}`;

/** Workflow input at submission. The read-model row (name, contact, justification) is written by the API. */
export interface Submission {
  environment: Environment;
  sponsor: string;
  /** `partner` (self-service) or `operator:<name>` */
  requestedBy: string;
  scopes: string[];
  /** ISO timestamp, already capped by policy maxAccess */
  accessUntil: string;
  submittedAt: string;
}

export interface DecisionInput {
  decision: 'approve' | 'reject';
  scopes?: string[];
  accessUntil?: string;
  reason: string;
  actor: Actor;
  /** the approval stage the API showed when it took the decision: it decides that stage only */
  stage?: ApprovalStage;
  /** at approval: the rate tier granted, one the policy lets an approver grant (default: the policy's default tier) */
  rateLimitTier?: string;
}
export interface RecertificationInput {
  decision: 'keep' | 'narrow' | 'revoke';
  scopes?: string[];
  reason: string;
  actor: Actor;
  /**
   * The review this answers: the cycle the API saw open, as a decision names its stage. An answer
   * held while its review closed (a retry after 503, a stale form) must not answer the next one.
   * Absent in updates sent before it existed.
   */
  cycle?: number;
}
export interface ExtensionInput {
  accessUntil: string;
  reason: string;
  actor: Actor;
}
export interface OffboardingInput {
  /** ISO timestamp; omitted means now */
  at?: string;
  reason: string;
  actor: Actor;
}
export interface RotationInput {
  /** the key the partner authenticated with */
  currentKeyId: string;
  actor: Actor;
}
/** Security suspends a live partner (reversible) or lifts its suspension. */
export interface SuspensionInput {
  reason: string;
  actor: Actor;
}
/** Security or an admin sets a live partner's rate tier, one of the policy's. */
export interface RateTierInput {
  tier: string;
  reason: string;
  actor: Actor;
}
/** An admin or security hands the partner to another sponsor (an approver's name). */
export interface SponsorChangeInput {
  sponsor: string;
  reason: string;
  actor: Actor;
}
export interface RevocationInput {
  reason: string;
  actor: Actor;
  at: string;
}

export interface DeadlineView {
  at: string;
  action: string;
}
export interface CredentialView {
  keyId: string;
  version: number;
  expiresAt: string;
  retireAt?: string;
}
export interface LifecycleStatus {
  partnerId: string;
  state: PartnerState;
  stage: ApprovalStage | null;
  escalated: boolean;
  environment: Environment;
  sponsor: string;
  scopes: string[];
  accessUntil: string;
  cycle: number;
  policyVersion: string | null;
  nextDeadline: DeadlineView | null;
  pendingExtension: { accessUntil: string; reason: string; requestedAt: string } | null;
  plannedOffboarding: { at: string; reason: string; by: string } | null;
  credentials: CredentialView[];
  endReason: string | null;
}

/** What a decision-like Update answers once the workflow has acted on it. */
export interface CommandResult {
  state: PartnerState;
  stage: ApprovalStage | null;
  /** set when the command issued a key (last approval, rotation) */
  issued?: { keyId: string; expiresAt: string };
  /** set for rotation: the key that stops working at `retireAt` */
  retiring?: { keyId: string; retireAt: string };
  accessUntil?: string;
}

/** Typed failure types: the API maps them to HTTP codes in one place (api/temporal-errors.ts). */
export const FailureTypes = {
  notAllowedInState: 'NotAllowedInState',
  forbidden: 'ForbiddenActor',
  invalidRequest: 'InvalidRequest',
  alreadyDecided: 'AlreadyDecided',
  /** a recertification answer today's policy would not grant (workflows/rules.ts checkRecertificationDrift) */
  policyDrift: 'PolicyDrift',
} as const;

export const decideUpdate = defineUpdate<CommandResult, [DecisionInput]>('decide');
export const recertifyUpdate = defineUpdate<CommandResult, [RecertificationInput]>('recertify');
export const requestExtensionUpdate = defineUpdate<CommandResult, [ExtensionInput]>('requestExtension');
export const planOffboardingUpdate = defineUpdate<CommandResult, [OffboardingInput]>('planOffboarding');
export const rotateCredentialUpdate = defineUpdate<CommandResult, [RotationInput]>('rotateCredential');
export const suspendUpdate = defineUpdate<CommandResult, [SuspensionInput]>('suspend');
export const resumeUpdate = defineUpdate<CommandResult, [SuspensionInput]>('resume');
export const changeSponsorUpdate = defineUpdate<CommandResult, [SponsorChangeInput]>('changeSponsor');
export const changeRateTierUpdate = defineUpdate<CommandResult, [RateTierInput]>('changeRateTier');
export const emergencyRevokeSignal = defineSignal<[RevocationInput]>('emergencyRevoke');
export const statusQuery = defineQuery<LifecycleStatus>('status');

export const workflowIdFor = (partnerId: string): string => `partner-${partnerId}`;
