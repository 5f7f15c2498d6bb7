/**
 * Who may do what to a partner: the one statement of each access rule. Pure and deterministic, so
 * the workflow's Update validators (workflows/rules.ts, which add the "when" and "what" checks),
 * the API's pre-checks, the inbox and visibility filters and any later caller ask the same
 * question of the same code. The facts come from the workflow state or the partners row; a fact
 * only the workflow knows (`approvedBy`) is optional.
 *
 * Each rule answers `{ ok: true }` or `{ ok: false, reason }`; the reason is what the caller is told.
 */
import { isKeyBearing, isRecertifiable, type ApprovalStage, type PartnerState, type Role } from './partner-states.js';

/** An operator as the rules see it. */
export interface OperatorFacts {
  name: string;
  roles: readonly Role[];
}

/** A partner as the rules see it: what both the workflow state and the partners row can say. */
export interface PartnerFacts {
  partnerId: string;
  state: PartnerState;
  /** the pending approval stage (only meaningful while pending_approval) */
  stage: ApprovalStage | null;
  sponsor: string;
  /** `partner` or `operator:<name>` */
  requestedBy: string;
  /** the pending stage has been escalated to alternates */
  escalated: boolean;
  /** actor labels of the earlier stages' approvers, when known (the workflow knows; the row does not) */
  approvedBy?: readonly string[];
  /** suspended by security (not for an unanswered review): only security lifts it, no recertification answer does */
  suspendedBySecurity?: boolean;
}

/** The partner acting for itself: its request token or one of its keys, resolved to its id. */
export interface PartnerSelf {
  partnerId: string;
}

export type Permission = { ok: true } | { ok: false; reason: string };
const allowed: Permission = { ok: true };
const refused = (reason: string): Permission => ({ ok: false, reason });

export const operatorLabel = (operator: Pick<OperatorFacts, 'name'>) => `operator:${operator.name}`;
const has = (operator: OperatorFacts, role: Role) => operator.roles.includes(role);

/** Roles that see every partner. */
export const seeAllRoles: readonly Role[] = ['security', 'auditor', 'admin'];
/** Roles that may file an onboarding request on a partner's behalf (sponsors, admins for migrations). */
export const submitOnBehalfRoles: readonly Role[] = ['approver', 'admin'];

/** Nobody decides a request they filed. */
export function mayDecideAsRequester(operator: OperatorFacts, partner: Pick<PartnerFacts, 'requestedBy'>): Permission {
  return operatorLabel(operator) === partner.requestedBy ? refused('the requester cannot approve their own request') : allowed;
}

/**
 * May this operator decide the pending approval stage? Stage 1 (sponsor): the sponsor, or once
 * escalated any approver; stage 2 (security): a security operator who approved no earlier stage.
 * Never the requester.
 */
export function mayDecideStage(operator: OperatorFacts, partner: PartnerFacts): Permission {
  const requester = mayDecideAsRequester(operator, partner);
  if (!requester.ok) return requester;
  if (partner.state !== 'pending_approval') return refused(`no approval is pending (state ${partner.state})`);
  if (partner.approvedBy?.includes(operatorLabel(operator))) {
    return has(operator, 'security') && partner.stage === 'security'
      ? refused('nobody approves two stages')
      : refused(`you already decided an earlier stage; waiting for ${partner.stage}`);
  }
  if (partner.stage === 'sponsor') {
    const isSponsor = operator.name === partner.sponsor;
    const isAlternate = partner.escalated && has(operator, 'approver');
    if (!has(operator, 'approver') || !(isSponsor || isAlternate)) {
      return refused(partner.escalated ? 'stage 1 needs the sponsor or another approver' : 'stage 1 needs the sponsor');
    }
  } else if (partner.stage === 'security') {
    if (!has(operator, 'security')) return refused('stage 2 needs a security operator');
  }
  return allowed;
}

/**
 * Who decides a partner's extension request: the sponsor, as an approver; then, where the
 * environment's policy requires security for the grant (its `securityApproval` rule, as at
 * approval), a security operator other than the one who approved the sponsor stage (`approvedBy`).
 */
export function mayDecideExtension(
  operator: OperatorFacts,
  partner: Pick<PartnerFacts, 'sponsor' | 'requestedBy'>,
  stage: ApprovalStage = 'sponsor',
  approvedBy?: string,
): Permission {
  const requester = mayDecideAsRequester(operator, partner);
  if (!requester.ok) return requester;
  if (stage === 'security') {
    if (!has(operator, 'security')) return refused('the extension needs a security operator now');
    return approvedBy === operatorLabel(operator) ? refused('nobody approves two stages') : allowed;
  }
  return operator.name === partner.sponsor && has(operator, 'approver') ? allowed : refused('only the sponsor decides an extension');
}

/**
 * The sponsor recertifies, and so may security: a grant that today's policy gives only with the
 * security stage it never had is kept by a security operator (its keep is that stage, see
 * workflows/rules.ts checkRecertificationDrift). Whether one is due is the workflow's "when".
 */
export function mayRecertify(operator: OperatorFacts | undefined, partner: Pick<PartnerFacts, 'sponsor' | 'requestedBy'>): Permission {
  if (!operator || !(operator.name === partner.sponsor || has(operator, 'security'))) return refused('only the sponsor or security recertifies');
  // security answering for the sponsor: never of a request it filed itself (its keep would be the security stage of its own grant)
  return operator.name === partner.sponsor ? allowed : mayDecideAsRequester(operator, partner);
}

/** Offboarding is for the partner itself, its sponsor or an admin. */
export function mayOffboard(actor: { operator: OperatorFacts } | { partner: PartnerSelf } | null, partner: Pick<PartnerFacts, 'partnerId' | 'sponsor'>): Permission {
  const ok =
    actor !== null &&
    ('partner' in actor
      ? actor.partner.partnerId === partner.partnerId
      : actor.operator.name === partner.sponsor || has(actor.operator, 'admin'));
  return ok ? allowed : refused('offboarding is for the partner, its sponsor or an admin');
}

/** Only the partner itself asks for an extension. */
export function mayRequestExtension(self: PartnerSelf | null, partner: Pick<PartnerFacts, 'partnerId'>): Permission {
  return self && self.partnerId === partner.partnerId ? allowed : refused('only the partner requests an extension');
}

/** Only the partner itself rotates its key. */
export function mayRotate(self: PartnerSelf | null, partner: Pick<PartnerFacts, 'partnerId'>): Permission {
  return self && self.partnerId === partner.partnerId ? allowed : refused('only the partner rotates its key');
}

/**
 * Security suspends a live partner's access and resumes it (reversible, unlike an emergency
 * revocation): it answers for the keys in an incident, so the same role holds and lifts the hold.
 */
export function maySuspend(operator: OperatorFacts | undefined): Permission {
  return operator && has(operator, 'security') ? allowed : refused('only security suspends or resumes a partner');
}

/** Roles that change a live partner's rate tier after approval (an incident, or a partner that grew). */
const rateTierRoles: readonly Role[] = ['admin', 'security'];

export function mayChangeRateTier(operator: OperatorFacts | undefined): Permission {
  return operator && operator.roles.some((role) => rateTierRoles.includes(role)) ? allowed : refused("only an admin or security changes a partner's rate tier");
}

/** Roles that hand a partner to another sponsor (a sponsor left, or moved on). */
export const sponsorHandOverRoles: readonly Role[] = ['admin', 'security'];

/** May this operator hand a partner to another sponsor? Admins and security may. */
export function mayHandOverSponsor(operator: OperatorFacts | undefined): Permission {
  return operator && operator.roles.some((role) => sponsorHandOverRoles.includes(role))
    ? allowed
    : refused('only an admin or security hands a partner to another sponsor');
}

/**
 * May this operator be named sponsor (at submission, at a hand-over)? An active approver only: a
 * sponsor decides stage 1 and recertifies as one. `roles` are those of the active operator of that
 * name, undefined when there is none (only the database knows the operators: api/commands.ts
 * `assertSponsorable` asks it).
 */
export function maySponsor(name: string, roles: readonly Role[] | undefined): Permission {
  return roles?.includes('approver') ? allowed : refused(`sponsor ${name} is not an active approver`);
}

/**
 * Why `successor` cannot take the partner over (null: it can): not the sponsor already, nor the
 * operator who filed a pending request (nobody decides their own request, so stage 1 would wait
 * for escalation). That the successor is an active approver is `maySponsor`.
 */
export function sponsorSuccessorProblem(partner: Pick<PartnerFacts, 'sponsor' | 'requestedBy' | 'state'>, successor: string): string | null {
  if (successor === partner.sponsor) return `${successor} already sponsors this partner`;
  // whatever the state: a requester who became sponsor would recertify (keep) their own grant
  if (partner.requestedBy === operatorLabel({ name: successor })) return 'the requester cannot sponsor their own request';
  return null;
}

/**
 * May this operator see the partner? Security, auditors and admins see every partner; an approver
 * sees those it sponsors and requests escalated to any approver (stage 1 pending, escalated).
 * (Partners see themselves: that is a matter of identity, decided where the token is resolved.)
 */
export function maySee(operator: OperatorFacts, partner: Pick<PartnerFacts, 'state' | 'stage' | 'sponsor' | 'escalated'>): boolean {
  if (operator.roles.some((role) => seeAllRoles.includes(role))) return true;
  if (!has(operator, 'approver')) return false;
  return partner.sponsor === operator.name || isEscalatedToApprovers(partner);
}

/** A stage-1 request escalated to every approver. */
export const isEscalatedToApprovers = (partner: Pick<PartnerFacts, 'state' | 'stage' | 'escalated'>) =>
  partner.state === 'pending_approval' && partner.stage === 'sponsor' && partner.escalated;

/** May these roles submit an onboarding request on a partner's behalf? */
export const maySubmitOnBehalf = (roles: readonly Role[]) => roles.some((role) => submitOnBehalfRoles.includes(role));

/**
 * Is a decision of this operator waiting on the partner (the inbox)? An approval stage it may
 * decide, a recertification it owes, or an extension it decides. The workflow's "when" checks
 * (a recertification is due, an extension waits in a key-bearing state) are part of "waiting".
 */
export function isWaitingOn(
  operator: OperatorFacts,
  partner: PartnerFacts & { pendingExtension: boolean; pendingExtensionStage?: ApprovalStage; extensionApprovedBy?: string },
): boolean {
  // The inbox never lists a request the operator filed, not even its later recertifications.
  if (!mayDecideAsRequester(operator, partner).ok) return false;
  if (partner.state === 'pending_approval') return mayDecideStage(operator, partner).ok;
  const extension = partner.pendingExtension && isKeyBearing(partner.state);
  if (extension && mayDecideExtension(operator, partner, partner.pendingExtensionStage, partner.extensionApprovedBy).ok) return true;
  if (!has(operator, 'approver')) return false;
  // A review is owed by the sponsor; security may answer one (mayRecertify) but is not sent every review.
  return isRecertifiable(partner.state) && !partner.suspendedBySecurity && operator.name === partner.sponsor;
}
