/**
 * The synchronous checks behind every Update validator. They run again when the workflow acts on
 * a queued command, because the state may have moved in between. "Who" is asked of
 * domain/access-rules.ts (the one statement of each access rule, shared with the API); "when"
 * (the state) and "what" (scopes, dates) are checked here. Pure functions: they return a
 * rejection instead of throwing, so they are unit-testable.
 */
import {
  mayDecideAsRequester,
  mayDecideExtension,
  mayDecideStage,
  mayChangeRateTier,
  mayHandOverSponsor,
  mayOffboard,
  mayRecertify,
  mayRequestExtension,
  mayRotate,
  maySuspend,
  sponsorSuccessorProblem,
  type PartnerFacts,
  type Permission,
} from '../domain/access-rules.js';
import { isKeyBearing, isLive, isRecertifiable } from '../domain/partner-states.js';
import {
  actorLabel,
  FailureTypes,
  type Actor,
  type DecisionInput,
  type ExtensionInput,
  type OffboardingInput,
  type RecertificationInput,
  type RateTierInput,
  type RotationInput,
  type SponsorChangeInput,
  type SuspensionInput,
} from './messages.js';
import { grantDriftUnder, type LifecyclePolicy, type LifecycleState } from './state.js';

export interface Rejection {
  type: (typeof FailureTypes)[keyof typeof FailureTypes];
  message: string;
}

const reject = (type: Rejection['type'], message: string): Rejection => ({ type, message });
const isOperator = (actor: Actor): actor is Extract<Actor, { kind: 'operator' }> => actor.kind === 'operator';
const factsOf = (s: LifecycleState): PartnerFacts => ({
  partnerId: s.partnerId,
  state: s.state,
  stage: s.stage,
  sponsor: s.sponsor,
  requestedBy: s.requestedBy,
  escalated: s.escalated,
  approvedBy: s.approvedBy,
});
const selfOf = (actor: Actor) => (actor.kind === 'partner' ? { partnerId: actor.partnerId } : null);
/** A refused permission as the validator's rejection (always "forbidden": it is about who). */
const forbidden = (permission: Permission): Rejection | null => (permission.ok ? null : reject(FailureTypes.forbidden, permission.reason));

function checkScopesNarrow(s: LifecycleState, scopes: string[] | undefined, mustShrink: boolean): Rejection | null {
  if (scopes === undefined) return mustShrink ? reject(FailureTypes.invalidRequest, 'narrow needs the reduced list of scopes') : null;
  if (scopes.length === 0) return reject(FailureTypes.invalidRequest, 'scopes cannot be empty; reject or revoke instead');
  const extra = scopes.filter((scope) => !s.scopes.includes(scope));
  if (extra.length > 0) return reject(FailureTypes.invalidRequest, `scopes can only be narrowed; not held: ${extra.join(', ')}`);
  if (mustShrink && new Set(scopes).size >= s.scopes.length) {
    return reject(FailureTypes.invalidRequest, 'narrow must remove at least one scope');
  }
  return null;
}

export function checkDecision(s: LifecycleState, input: DecisionInput, nowMs: number): Rejection | null {
  const actor = input.actor;
  if (!isOperator(actor)) return reject(FailureTypes.forbidden, 'only operators decide');
  const notRequester = forbidden(mayDecideAsRequester(actor, factsOf(s)));
  if (notRequester) return notRequester;
  // Two approvers at once: the one taken second decided a stage that has closed; it never
  // carries over to the next stage, which its approver was not shown.
  if (input.stage !== undefined && (s.state !== 'pending_approval' || s.stage !== input.stage)) {
    return reject(FailureTypes.alreadyDecided, `the ${input.stage} stage was already decided; nothing was changed`);
  }

  if (s.state === 'pending_approval') {
    // Having approved an earlier stage is not a question of who but of what already happened:
    // the approver is told the request moved on (only stage 2's own role makes it a refusal).
    if (s.approvedBy.includes(actorLabel(actor)) && !(actor.roles.includes('security') && s.stage === 'security')) {
      return reject(FailureTypes.alreadyDecided, `you already decided an earlier stage; waiting for ${s.stage}`);
    }
    const who = forbidden(mayDecideStage(actor, factsOf(s)));
    if (who) return who;
    if (input.decision === 'approve') {
      const scopeProblem = checkScopesNarrow(s, input.scopes, false);
      if (scopeProblem) return scopeProblem;
      if (input.rateLimitTier !== undefined && s.policy) {
        const grantable = s.policy.approverRateLimitTiers ?? [];
        if (!grantable.includes(input.rateLimitTier)) {
          return reject(FailureTypes.invalidRequest, `rate tier ${input.rateLimitTier} is not one an approver may grant (${grantable.join(', ') || 'none'})`);
        }
      }
      if (input.accessUntil !== undefined) {
        const until = Date.parse(input.accessUntil);
        if (Number.isNaN(until)) return reject(FailureTypes.invalidRequest, 'accessUntil is not a date');
        if (until > s.accessUntilMs) return reject(FailureTypes.invalidRequest, 'accessUntil can only be shortened');
        if (until <= nowMs) return reject(FailureTypes.invalidRequest, 'accessUntil must be in the future');
      }
    }
    return null;
  }

  if (s.pendingExtension && isKeyBearing(s.state)) {
    const who = forbidden(mayDecideExtension(actor, factsOf(s), s.pendingExtension.stage, s.pendingExtension.approvedBy));
    if (who) return who;
    if (input.scopes !== undefined) return reject(FailureTypes.invalidRequest, 'an extension decision does not change scopes');
    if (input.rateLimitTier !== undefined) return reject(FailureTypes.invalidRequest, 'an extension decision does not change the rate tier');
    if (input.decision === 'approve' && input.accessUntil !== undefined) {
      const until = Date.parse(input.accessUntil);
      if (Number.isNaN(until) || until > s.pendingExtension.accessUntilMs || until <= s.accessUntilMs) {
        return reject(FailureTypes.invalidRequest, 'accessUntil must lie between the current end and the requested one');
      }
    }
    return null;
  }
  return reject(FailureTypes.notAllowedInState, `no decision is pending (state ${s.state})`);
}

export function checkRecertification(s: LifecycleState, input: RecertificationInput): Rejection | null {
  const actor = input.actor;
  const who = forbidden(mayRecertify(isOperator(actor) ? actor : undefined, factsOf(s)));
  if (who) return who;
  if (!isRecertifiable(s.state)) {
    return reject(FailureTypes.notAllowedInState, `no recertification is due (state ${s.state})`);
  }
  // A late answer would reactivate the partner: under security's hold, security resumes first.
  if (s.securityHold) return reject(FailureTypes.notAllowedInState, 'the partner is suspended by security; it must be resumed first');
  if (input.cycle !== undefined && input.cycle !== s.cycle) {
    return reject(FailureTypes.notAllowedInState, `the review this answers (cycle ${input.cycle}) is closed; cycle ${s.cycle} is open`);
  }
  if (input.decision === 'narrow') return checkScopesNarrow(s, input.scopes, true);
  if (input.scopes !== undefined) return reject(FailureTypes.invalidRequest, `scopes are only given with narrow`);
  return null;
}

/** Does this answer come from a security operator other than the sponsor (four eyes, as at approval)? */
export function isSecurityAnswer(s: LifecycleState, actor: Actor): boolean {
  return isOperator(actor) && actor.roles.includes('security') && actor.name !== s.sponsor;
}

/**
 * A `keep` or `narrow` held against today's policy (issue #16 item 1): the scopes the grant keeps
 * must all be in today's catalogue, and if today's policy grants them only with the security stage,
 * the grant must have had it (at approval, or a security operator's earlier keep) or this answer
 * must be a security operator's, which then is that stage. The other drift findings (an end beyond
 * today's maxAccess, a tier no longer offered) are shown to the reviewer but do not refuse a keep.
 */
export function checkRecertificationDrift(s: LifecycleState, input: RecertificationInput, today: LifecyclePolicy): Rejection | null {
  if (input.decision === 'revoke') return null;
  const scopes = input.decision === 'narrow' && input.scopes ? [...new Set(input.scopes)] : s.scopes;
  const bySecurity = isSecurityAnswer(s, input.actor);
  // Security answers a review only as the stage a drifted grant lacks: the rest is the sponsor's
  // attestation that the partner still needs the access, which security cannot give in its place.
  if (bySecurity && !grantDriftUnder(s, today, scopes, false).some((f) => f.rule === 'security_stage_missing')) {
    return reject(FailureTypes.forbidden, `only the sponsor answers this review: policy ${today.version} does not require the security stage these scopes lack`);
  }
  const findings = grantDriftUnder(s, today, scopes, bySecurity);
  const known = scopes.filter((scope) => today.scopeRisk[scope] !== undefined);
  if (findings.some((f) => f.rule === 'scope_not_in_catalogue')) {
    const unknown = scopes.filter((scope) => !known.includes(scope));
    const way = known.length > 0 ? `narrow to ${known.join(', ')} or revoke` : 'revoke';
    return reject(FailureTypes.policyDrift, `${unknown.join(', ')} no longer in the catalogue of policy ${today.version}: ${input.decision} is refused; ${way}`);
  }
  if (findings.some((f) => f.rule === 'security_stage_missing')) {
    const lowRisk = today.securityApproval === 'always' ? [] : known.filter((scope) => today.scopeRisk[scope] === 'low');
    const why = today.securityApproval === 'always' ? `every grant in ${s.environment}` : scopes.filter((scope) => !lowRisk.includes(scope)).join(', ');
    const narrow = lowRisk.length > 0 ? `narrow to ${lowRisk.join(', ')} or ` : '';
    return reject(
      FailureTypes.policyDrift,
      `policy ${today.version} requires the security stage for ${why}, which this grant never had: ${narrow}have a security operator (not the sponsor) keep it`,
    );
  }
  return null;
}

/**
 * `capFrom`: where the policy's maximum access counts from. `grant` (the rule now): the grant's
 * approval, so extensions cannot chain a grant past it. `now` (the rule before): only for a
 * workflow replaying commands it served under that rule (see EXTENSION_CAP_FROM_GRANT).
 */
export function checkExtension(s: LifecycleState, input: ExtensionInput, nowMs: number, capFrom: 'grant' | 'now' = 'grant'): Rejection | null {
  const who = forbidden(mayRequestExtension(selfOf(input.actor), factsOf(s)));
  if (who) return who;
  if (!isKeyBearing(s.state)) {
    return reject(FailureTypes.notAllowedInState, `no extension in state ${s.state}`);
  }
  if (s.pendingExtension) return reject(FailureTypes.notAllowedInState, 'an extension request is already waiting');
  if (s.plannedOffboarding) return reject(FailureTypes.notAllowedInState, 'an offboarding is planned');
  const until = Date.parse(input.accessUntil);
  if (Number.isNaN(until)) return reject(FailureTypes.invalidRequest, 'accessUntil is not a date');
  if (until <= s.accessUntilMs) return reject(FailureTypes.invalidRequest, 'an extension must end after the current end');
  // The policy's maximum access counts from the grant's approval, not from now: otherwise one
  // extension after another keeps a grant alive forever without a new approval.
  const fromMs = capFrom === 'grant' ? (s.grantedAtMs ?? s.certifiedAtMs) : nowMs;
  if (s.policy && until > fromMs + s.policy.maxAccessMs) {
    return reject(
      FailureTypes.invalidRequest,
      `accessUntil is beyond the policy maximum access (${new Date(fromMs + s.policy.maxAccessMs).toISOString()}${capFrom === 'grant' ? ", counted from the grant's approval" : ''})`,
    );
  }
  return null;
}

export function checkOffboarding(s: LifecycleState, input: OffboardingInput, nowMs: number): Rejection | null {
  const actor = input.actor;
  const who = forbidden(mayOffboard(isOperator(actor) ? { operator: actor } : actor.kind === 'partner' ? { partner: actor } : null, factsOf(s)));
  if (who) return who;
  if (!isLive(s.state)) return reject(FailureTypes.notAllowedInState, `cannot plan offboarding in state ${s.state}`);
  if (input.at !== undefined) {
    const at = Date.parse(input.at);
    if (Number.isNaN(at)) return reject(FailureTypes.invalidRequest, 'at is not a date');
    if (at > s.accessUntilMs) return reject(FailureTypes.invalidRequest, 'at is after the access end; offboarding can only come earlier');
    if (at < nowMs - 60_000) return reject(FailureTypes.invalidRequest, 'at is in the past');
  }
  return null;
}

export function checkRotation(s: LifecycleState, input: RotationInput): Rejection | null {
  const who = forbidden(mayRotate(selfOf(input.actor), factsOf(s)));
  if (who) return who;
  if (!isKeyBearing(s.state)) {
    return reject(FailureTypes.notAllowedInState, `cannot rotate in state ${s.state}`);
  }
  const current = s.credentials.find((c) => c.keyId === input.currentKeyId);
  if (!current || current.retireAtMs !== undefined) {
    return reject(FailureTypes.notAllowedInState, 'rotate with the newest live key');
  }
  if (s.credentials.length >= 2) return reject(FailureTypes.notAllowedInState, 'a rotation is already in progress');
  return null;
}

const operatorOf = (actor: Actor) => (isOperator(actor) ? actor : undefined);

/**
 * Security's suspension: of a partner whose keys are accepted (`active`, `recertification_due`).
 * A partner suspended for an unanswered review is already refused its keys and runs out its grace;
 * security revokes it if its access must end now.
 */
export function checkSuspension(s: LifecycleState, input: SuspensionInput): Rejection | null {
  const who = forbidden(maySuspend(operatorOf(input.actor)));
  if (who) return who;
  if (s.securityHold) return reject(FailureTypes.notAllowedInState, 'the partner is already suspended by security');
  if (!isKeyBearing(s.state)) {
    const why = s.state === 'suspended' ? 'suspended: recertification not answered' : s.state;
    return reject(FailureTypes.notAllowedInState, `cannot suspend in state ${why}`);
  }
  return null;
}

/** Lifting security's suspension; a suspension for an unanswered review ends with the sponsor's late answer instead. */
export function checkResumption(s: LifecycleState, input: SuspensionInput): Rejection | null {
  const who = forbidden(maySuspend(operatorOf(input.actor)));
  if (who) return who;
  if (!s.securityHold || s.state !== 'suspended') return reject(FailureTypes.notAllowedInState, `the partner is not suspended by security (state ${s.state})`);
  return null;
}

/** A sponsor hand-over, while a request is pending or the partner is live. */
export function checkSponsorChange(s: LifecycleState, input: SponsorChangeInput): Rejection | null {
  const who = forbidden(mayHandOverSponsor(operatorOf(input.actor)));
  if (who) return who;
  if (s.state !== 'pending_approval' && !isLive(s.state)) return reject(FailureTypes.notAllowedInState, `cannot change the sponsor in state ${s.state}`);
  const problem = sponsorSuccessorProblem(factsOf(s), input.sponsor);
  return problem ? reject(FailureTypes.invalidRequest, problem) : null;
}

/** A live partner's rate tier, set by security or an admin to another of the policy's tiers. */
export function checkRateTierChange(s: LifecycleState, input: RateTierInput): Rejection | null {
  const who = forbidden(mayChangeRateTier(operatorOf(input.actor)));
  if (who) return who;
  if (!isLive(s.state)) return reject(FailureTypes.notAllowedInState, `cannot change the rate tier in state ${s.state}`);
  const tiers = s.policy?.rateLimitTiers ?? [];
  if (!tiers.includes(input.tier)) return reject(FailureTypes.invalidRequest, `rate tier ${input.tier} is not one of the policy's (${tiers.join(', ') || 'none'})`);
  if (input.tier === (s.rateLimitTier ?? s.policy?.defaultRateLimitTier)) return reject(FailureTypes.invalidRequest, `the partner already has rate tier ${input.tier}`);
  return null;
}
