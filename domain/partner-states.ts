/**
 * The partner vocabulary, defined once: states, which of them are live, terminal or key-bearing,
 * approval stages, environments and operator roles. The zod enums (schema/api.ts, api/commands.ts),
 * the Kysely column types (schema/database.ts) and the workflow's types (workflows/messages.ts) are
 * derived from these lists. Pure and dependency-free: the workflow bundle imports it.
 */

export const partnerStates = [
  'pending_approval',
  'active',
  'recertification_due',
  'suspended',
  'rejected',
  'request_expired',
  'offboarded',
  'revoked',
] as const;
export type PartnerState = (typeof partnerStates)[number];

/** States a partner never leaves: the workflow has ended. */
export const terminalStates: readonly PartnerState[] = ['rejected', 'request_expired', 'offboarded', 'revoked'];

/** Approved and not ended: offboarding can be planned, recertification and suspension happen here. */
export const liveStates: readonly PartnerState[] = ['active', 'recertification_due', 'suspended'];

/** Live states whose keys are accepted (a suspended partner's keys are refused, not revoked). */
export const keyBearingStates: readonly PartnerState[] = ['active', 'recertification_due'];

/** States in which the sponsor answers a recertification (suspended: the late answer still counts). */
export const recertifiableStates: readonly PartnerState[] = ['recertification_due', 'suspended'];

export const approvalStages = ['sponsor', 'security'] as const;
export type ApprovalStage = (typeof approvalStages)[number];

export const environments = ['sandbox', 'production'] as const;
export type Environment = (typeof environments)[number];

export const roles = ['approver', 'security', 'auditor', 'admin', 'gateway'] as const;
export type Role = (typeof roles)[number];

const within = (list: readonly string[], state: string) => list.includes(state);
export const isTerminal = (state: string) => within(terminalStates, state);
export const isLive = (state: string) => within(liveStates, state);
export const isKeyBearing = (state: string) => within(keyBearingStates, state);
export const isRecertifiable = (state: string) => within(recertifiableStates, state);
