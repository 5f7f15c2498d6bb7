/**
 * What a partner is told of a reason. Operators write reasons for each other (security's incident
 * notes, an administrator's, a sponsor's verdict at recertification); a partner reads only the
 * reasons written for it or by it, and a neutral sentence where the written one is internal. One
 * rule for every place a partner reads: its timeline, its partner view, and the notices it gets.
 * Pure: the workflow uses it too.
 */

/** Neutral sentences where the written reason is internal. */
import type { PartnerState } from './partner-states.js';

export const neutralReasons = {
  revoked: 'access revoked by security',
  notRenewed: 'access not renewed at recertification',
  plannedByAdmin: 'offboarding planned by an administrator',
  offboardedByAdmin: 'offboarded by an administrator',
  suspendedByOperator: 'access suspended by security',
} as const;

/** Who wrote a reason, as far as the partner is concerned. */
export type ReasonAuthor = 'partner' | 'sponsor' | 'system' | 'operator';

/** The author of a reason from an actor label (`partner:<id>`, `operator:<name>`, `system:<x>`; none = the lifecycle). */
export function reasonAuthor(actor: string | undefined, partnerId: string, sponsor: string): ReasonAuthor {
  if (actor === undefined || actor.startsWith('system:')) return 'system';
  if (actor === `partner:${partnerId}`) return 'partner';
  if (actor === `operator:${sponsor}`) return 'sponsor';
  return 'operator';
}

/** The terminal states: how a lifecycle can end. */
export type Ending = Extract<PartnerState, 'rejected' | 'request_expired' | 'offboarded' | 'revoked'>;

/**
 * The reason a partner is given for the end of its access. A rejection's reason is the answer to
 * its request; the product's own sentences (timeouts, end dates) are shown; an offboarding the
 * partner or its sponsor asked for keeps its reason; security's revocation, an administrator's
 * offboarding and a recertification that was not renewed read as neutral sentences.
 */
export function partnerFacingEndReason(ending: Ending, reason: string, author: ReasonAuthor, notRenewed = false): string {
  switch (ending) {
    case 'revoked':
      return neutralReasons.revoked;
    case 'rejected':
    case 'request_expired':
      return reason;
    case 'offboarded':
      if (notRenewed) return neutralReasons.notRenewed;
      return author === 'operator' ? neutralReasons.offboardedByAdmin : reason;
  }
}

/** The reason a partner is given for a planned offboarding. */
export function partnerFacingPlanReason(reason: string, author: ReasonAuthor): string {
  return author === 'operator' ? neutralReasons.plannedByAdmin : reason;
}
