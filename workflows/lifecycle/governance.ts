/**
 * Governance commands served in any phase they apply to: security's reversible suspension and its
 * lifting, the hand-over of a partner to another sponsor, and a change of its rate tier. Each re-checks its rule at dequeue
 * (the state may have moved since the validator), writes one transition, tells whom it concerns,
 * and answers the command.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { upsertSearchAttributes } from '@temporalio/workflow';
import { neutralReasons } from '../../domain/partner-facing.js';
import { actorLabel, type RateTierInput, type SponsorChangeInput, type SuspensionInput } from '../messages.js';
import { checkRateTierChange, checkResumption, checkSponsorChange, checkSuspension } from '../rules.js';
import { iso, type Lifecycle } from './context.js';

/**
 * Security suspends: the partner's keys are refused from this transition's commit on (key liveness
 * reads the partner's state, and the state change reaches the edge gateways through the change
 * feed), kept rather than revoked. No grace countdown runs; the review and end dates keep theirs.
 */
export async function suspend(lc: Lifecycle, id: number, input: SuspensionInput): Promise<false> {
  const s = lc.s;
  const problem = checkSuspension(s, input);
  if (problem) return lc.refuse(id, problem);
  const by = actorLabel(input.actor);
  const resumeTo = s.state === 'recertification_due' ? 'recertification_due' : 'active';
  s.securityHold = { by, atMs: Date.now(), resumeTo };
  await lc.transition('partner.suspended', 'suspended', {
    actor: by,
    reason: input.reason,
    patch: { suspendedBy: by },
    details: { by: 'security', resumeTo },
    // security's reason is internal: the partner reads the neutral sentence its timeline shows
    notice: { kind: 'partner.suspended', recipients: ['partner', `operator:${s.sponsor}`], message: `Access ${neutralReasons.suspendedByOperator}`, data: { by: 'security' } },
  });
  lc.settle(id, { ok: lc.commandResult() });
  return false;
}

/**
 * Security lifts its suspension: the partner returns to the state it was suspended from, with the
 * dates it had (a review that fell due meanwhile is overdue at once: the unanswered-review rule
 * then applies, grace and all).
 */
export async function resume(lc: Lifecycle, id: number, input: SuspensionInput): Promise<false> {
  const s = lc.s;
  const problem = checkResumption(s, input);
  if (problem) return lc.refuse(id, problem);
  const hold = s.securityHold!;
  s.securityHold = null;
  const by = actorLabel(input.actor);
  await lc.transition('partner.resumed', hold.resumeTo, {
    actor: by,
    reason: input.reason,
    patch: { suspendedBy: null },
    details: { suspendedAt: iso(hold.atMs), suspendedBy: hold.by },
    notice: { kind: 'partner.resumed', recipients: ['partner', `operator:${s.sponsor}`], message: 'Access resumed' },
  });
  lc.settle(id, { ok: lc.commandResult() });
  return false;
}

/** The sponsor as the workflow's search attribute (set at the start: runtime/search-attributes.ts, which workflows may not import). */
export const sponsorSearchAttribute = defineSearchAttributeKey('PartnerSponsor', SearchAttributeType.KEYWORD);

/**
 * The partner gets another sponsor: whatever waits on the sponsor (stage 1 of a pending request,
 * a due review, an extension request) now waits on the successor, who is told so.
 */
export async function changeSponsor(lc: Lifecycle, id: number, input: SponsorChangeInput): Promise<false> {
  const s = lc.s;
  const problem = checkSponsorChange(s, input);
  if (problem) return lc.refuse(id, problem);
  const previous = s.sponsor;
  s.sponsor = input.sponsor;
  upsertSearchAttributes([{ key: sponsorSearchAttribute, value: input.sponsor }]);
  const waiting =
    s.state === 'pending_approval' && s.stage === 'sponsor'
      ? 'an approval (stage sponsor)'
      : s.state === 'recertification_due' || (s.state === 'suspended' && !s.securityHold)
        ? 'a recertification'
        : s.pendingExtension
          ? 'an extension request'
          : null;
  await lc.transition('partner.sponsor_changed', s.state, {
    actor: actorLabel(input.actor),
    reason: input.reason,
    patch: { sponsor: input.sponsor },
    details: { from: previous, to: input.sponsor },
    notice: {
      kind: 'partner.sponsor_changed',
      recipients: [`operator:${input.sponsor}`, `operator:${previous}`],
      message: `Partner ${s.partnerId} is now sponsored by ${input.sponsor} (was ${previous})${waiting ? `; waiting on the sponsor: ${waiting}` : ''}`,
      data: { from: previous, to: input.sponsor },
    },
  });
  lc.settle(id, { ok: lc.commandResult() });
  return false;
}

/**
 * Security or an admin sets the partner's rate tier. The read model's tier is what every gateway
 * enforces: `auth_request` reads it on each request, and the edge gateways hear of the change
 * through the change feed (the partners row's trigger), so it applies at once.
 */
export async function changeRateTier(lc: Lifecycle, id: number, input: RateTierInput): Promise<false> {
  const s = lc.s;
  const problem = checkRateTierChange(s, input);
  if (problem) return lc.refuse(id, problem);
  const previous = s.rateLimitTier ?? s.policy?.defaultRateLimitTier ?? null;
  s.rateLimitTier = input.tier;
  await lc.transition('partner.rate_tier_changed', s.state, {
    actor: actorLabel(input.actor),
    reason: input.reason,
    patch: { rateLimitTier: input.tier },
    details: { from: previous, to: input.tier },
    notice: { kind: 'partner.rate_tier_changed', recipients: ['partner', `operator:${s.sponsor}`], message: `Rate limit tier is now ${input.tier}`, data: { tier: input.tier } },
  });
  lc.settle(id, { ok: lc.commandResult() });
  return false;
}
