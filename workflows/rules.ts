/**
 * Who may do what, when: the synchronous checks behind every Update validator. They run again
 * when the workflow acts on a queued command, because the state may have moved in between.
 * Pure functions: they return a rejection instead of throwing, so they are unit-testable.
 */
import {
  actorLabel,
  FailureTypes,
  type Actor,
  type DecisionInput,
  type ExtensionInput,
  type OffboardingInput,
  type RecertificationInput,
  type RotationInput,
} from './messages.js';
import type { LifecycleState } from './state.js';

export interface Rejection {
  type: (typeof FailureTypes)[keyof typeof FailureTypes];
  message: string;
}

const reject = (type: Rejection['type'], message: string): Rejection => ({ type, message });
const isOperator = (actor: Actor): actor is Extract<Actor, { kind: 'operator' }> => actor.kind === 'operator';
const liveStates = ['active', 'recertification_due', 'suspended'] as const;
const isLive = (s: LifecycleState) => (liveStates as readonly string[]).includes(s.state);

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
  if (actorLabel(actor) === s.requestedBy) return reject(FailureTypes.forbidden, 'the requester cannot approve their own request');
  // Two approvers at once: the one taken second decided a stage that has closed; it never
  // carries over to the next stage, which its approver was not shown.
  if (input.stage !== undefined && (s.state !== 'pending_approval' || s.stage !== input.stage)) {
    return reject(FailureTypes.alreadyDecided, `the ${input.stage} stage was already decided; nothing was changed`);
  }

  if (s.state === 'pending_approval') {
    if (s.approvedBy.includes(actorLabel(actor))) {
      return actor.roles.includes('security') && s.stage === 'security'
        ? reject(FailureTypes.forbidden, 'nobody approves two stages')
        : reject(FailureTypes.alreadyDecided, `you already decided an earlier stage; waiting for ${s.stage}`);
    }
    if (s.stage === 'sponsor') {
      const isSponsor = actor.name === s.sponsor;
      const isAlternate = s.escalated && actor.roles.includes('approver');
      if (!actor.roles.includes('approver') || !(isSponsor || isAlternate)) {
        return reject(FailureTypes.forbidden, s.escalated ? 'stage 1 needs the sponsor or another approver' : 'stage 1 needs the sponsor');
      }
    } else if (s.stage === 'security') {
      if (!actor.roles.includes('security')) return reject(FailureTypes.forbidden, 'stage 2 needs a security operator');
    }
    if (input.decision === 'approve') {
      const scopeProblem = checkScopesNarrow(s, input.scopes, false);
      if (scopeProblem) return scopeProblem;
      if (input.accessUntil !== undefined) {
        const until = Date.parse(input.accessUntil);
        if (Number.isNaN(until)) return reject(FailureTypes.invalidRequest, 'accessUntil is not a date');
        if (until > s.accessUntilMs) return reject(FailureTypes.invalidRequest, 'accessUntil can only be shortened');
        if (until <= nowMs) return reject(FailureTypes.invalidRequest, 'accessUntil must be in the future');
      }
    }
    return null;
  }

  if (s.pendingExtension && (s.state === 'active' || s.state === 'recertification_due')) {
    if (actor.name !== s.sponsor || !actor.roles.includes('approver')) {
      return reject(FailureTypes.forbidden, 'only the sponsor decides an extension');
    }
    if (input.scopes !== undefined) return reject(FailureTypes.invalidRequest, 'an extension decision does not change scopes');
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
  if (!isOperator(actor) || actor.name !== s.sponsor) return reject(FailureTypes.forbidden, 'only the sponsor recertifies');
  if (s.state !== 'recertification_due' && s.state !== 'suspended') {
    return reject(FailureTypes.notAllowedInState, `no recertification is due (state ${s.state})`);
  }
  if (input.decision === 'narrow') return checkScopesNarrow(s, input.scopes, true);
  if (input.scopes !== undefined) return reject(FailureTypes.invalidRequest, `scopes are only given with narrow`);
  return null;
}

export function checkExtension(s: LifecycleState, input: ExtensionInput, nowMs: number): Rejection | null {
  if (input.actor.kind !== 'partner' || input.actor.partnerId !== s.partnerId) {
    return reject(FailureTypes.forbidden, 'only the partner requests an extension');
  }
  if (s.state !== 'active' && s.state !== 'recertification_due') {
    return reject(FailureTypes.notAllowedInState, `no extension in state ${s.state}`);
  }
  if (s.pendingExtension) return reject(FailureTypes.notAllowedInState, 'an extension request is already waiting');
  if (s.plannedOffboarding) return reject(FailureTypes.notAllowedInState, 'an offboarding is planned');
  const until = Date.parse(input.accessUntil);
  if (Number.isNaN(until)) return reject(FailureTypes.invalidRequest, 'accessUntil is not a date');
  if (until <= s.accessUntilMs) return reject(FailureTypes.invalidRequest, 'an extension must end after the current end');
  if (s.policy && until > nowMs + s.policy.maxAccessMs) {
    return reject(FailureTypes.invalidRequest, 'accessUntil is beyond the policy maximum access');
  }
  return null;
}

export function checkOffboarding(s: LifecycleState, input: OffboardingInput, nowMs: number): Rejection | null {
  const actor = input.actor;
  const allowed =
    (actor.kind === 'partner' && actor.partnerId === s.partnerId) ||
    (isOperator(actor) && (actor.name === s.sponsor || actor.roles.includes('admin')));
  if (!allowed) return reject(FailureTypes.forbidden, 'offboarding is for the partner, its sponsor or an admin');
  if (!isLive(s)) return reject(FailureTypes.notAllowedInState, `cannot plan offboarding in state ${s.state}`);
  if (input.at !== undefined) {
    const at = Date.parse(input.at);
    if (Number.isNaN(at)) return reject(FailureTypes.invalidRequest, 'at is not a date');
    if (at > s.accessUntilMs) return reject(FailureTypes.invalidRequest, 'at is after the access end; offboarding can only come earlier');
    if (at < nowMs - 60_000) return reject(FailureTypes.invalidRequest, 'at is in the past');
  }
  return null;
}

export function checkRotation(s: LifecycleState, input: RotationInput): Rejection | null {
  if (input.actor.kind !== 'partner' || input.actor.partnerId !== s.partnerId) {
    return reject(FailureTypes.forbidden, 'only the partner rotates its key');
  }
  if (s.state !== 'active' && s.state !== 'recertification_due') {
    return reject(FailureTypes.notAllowedInState, `cannot rotate in state ${s.state}`);
  }
  const current = s.credentials.find((c) => c.keyId === input.currentKeyId);
  if (!current || current.retireAtMs !== undefined) {
    return reject(FailureTypes.notAllowedInState, 'rotate with the newest live key');
  }
  if (s.credentials.length >= 2) return reject(FailureTypes.notAllowedInState, 'a rotation is already in progress');
  return null;
}
