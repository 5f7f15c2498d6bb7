/**
 * The partner's own view of its timeline: what happened to its access, when, in which role, and
 * the reason only where that reason was written for the partner. Operators and auditors read the
 * audit events themselves (`toAuditEvent`); a partner never sees operator names, the global
 * sequence numbers and hashes (they reveal activity across all partners), internal notes, or
 * security's reasons.
 *
 * Everything here is an allowlist, so it fails closed: an action not listed below is not shown to
 * the partner at all until someone decides what of it the partner may see, and a detail field not
 * listed is dropped.
 */
import { neutralReasons, partnerFacingEndReason, partnerFacingPlanReason, type ReasonAuthor } from '../domain/partner-facing.js';
import type { AuditEventRow } from '../schema/database.js';

/** The role in which someone acted, as the partner may know it. */
export type TimelineRole = 'partner' | 'sponsor' | 'approver' | 'security' | 'admin' | 'system';

export interface PartnerTimelineEvent {
  at: string;
  action: string;
  by: TimelineRole;
  reason: string | null;
  details: Partial<Record<PartnerDetailField, string>> | null;
}

/** An audit event of the partner with what the timeline needs to say who acted. */
export interface TimelineSource extends AuditEventRow {
  /** the approval stage of a decision event (from `decisions`), else null */
  decision_stage: string | null;
}

export interface TimelineContext {
  /** the partner's sponsor */
  sponsor: string;
  /** roles of the operators named in the events (for actions several roles may take) */
  operatorRoles: ReadonlyMap<string, readonly string[]>;
}

/** Detail fields a partner may see: its own keys' public identifiers and times, never notes. */
const partnerDetailFields = ['keyId', 'prefix', 'expiresAt', 'newKeyId', 'oldKeyId', 'retireAt'] as const;
type PartnerDetailField = (typeof partnerDetailFields)[number];

export { neutralReasons };

type ReasonRule =
  /** written by or for the partner: shown as written */
  | 'shown'
  /** internal: never shown */
  | 'hidden'
  /** written by the product itself (timers, the lifecycle): shown; an operator's reason is not */
  | 'system'
  /** shown when the partner or its sponsor wrote it; otherwise a neutral sentence */
  | 'partnerOrSponsor'
  /** security's own reason: a neutral sentence instead */
  | 'revocation';

/**
 * Every action a partner sees, and what of its reason. An approval's note is for other approvers;
 * a rejection's reason is the answer to the request (the partner's notice carries it too).
 * Revocation verification results are about the gateway, not the partner: not listed.
 */
const partnerActions: Record<string, ReasonRule> = {
  'partner.submitted': 'hidden',
  'approval.granted': 'hidden',
  'approval.rejected': 'shown',
  'approval.escalated': 'hidden',
  'approval.expired': 'system',
  'partner.activated': 'hidden',
  'credential.issued': 'hidden',
  'credential.rotated': 'hidden',
  'credential.picked_up': 'hidden',
  'credential.retired': 'hidden',
  'extension.requested': 'shown',
  'extension.approved': 'shown',
  'extension.rejected': 'shown',
  'extension.expired': 'hidden',
  'offboarding.planned': 'partnerOrSponsor',
  'partner.offboarded': 'partnerOrSponsor',
  'recertification.opened': 'hidden',
  'recertification.kept': 'hidden',
  'recertification.narrowed': 'hidden',
  'recertification.revoked': 'hidden',
  'partner.reactivated': 'hidden',
  'partner.suspended': 'system',
  'partner.resumed': 'hidden',
  'partner.revocation_requested': 'revocation',
  'partner.revoked': 'revocation',
};

/** Actions only security takes (an operator actor of these acted as security). */
const securityActions = new Set(['partner.revocation_requested', 'partner.revoked', 'partner.suspended', 'partner.resumed']);

export const isPartnerVisible = (action: string): boolean => Object.hasOwn(partnerActions, action);

/** The events of one partner (oldest first) as the partner may see them. */
export function partnerTimeline(events: readonly TimelineSource[], ctx: TimelineContext): PartnerTimelineEvent[] {
  const out: PartnerTimelineEvent[] = [];
  // Issuance after the last approval is recorded under that approver: it is shown in their role.
  let lastApprovalRole: TimelineRole = 'system';
  let notRenewed = false;
  for (const e of events) {
    if (e.action === 'recertification.revoked') notRenewed = true;
    if (!isPartnerVisible(e.action)) continue;
    const by = roleOf(e, ctx, lastApprovalRole);
    if (e.action === 'approval.granted') lastApprovalRole = by;
    out.push({ at: e.at, action: e.action, by, reason: reasonFor(e, by, notRenewed), details: detailsOf(e.details) });
  }
  return out;
}

function roleOf(e: TimelineSource, ctx: TimelineContext, lastApprovalRole: TimelineRole): TimelineRole {
  const [kind, ...rest] = e.actor.split(':');
  if (kind === 'partner') return 'partner';
  if (kind !== 'operator') return 'system';
  const name = rest.join(':');
  if (e.action === 'approval.granted' || e.action === 'approval.rejected') {
    if (e.decision_stage === 'security') return 'security';
    return name === ctx.sponsor ? 'sponsor' : 'approver';
  }
  if (e.action === 'partner.activated' || e.action === 'credential.issued') return lastApprovalRole;
  if (securityActions.has(e.action)) return 'security';
  if (name === ctx.sponsor) return 'sponsor';
  // Actions several roles may take (filing on a partner's behalf, offboarding): the operator's role.
  const roles = ctx.operatorRoles.get(name) ?? [];
  if (roles.includes('admin')) return 'admin';
  if (roles.includes('approver')) return 'approver';
  if (roles.includes('security')) return 'security';
  return 'admin';
}

function reasonFor(e: TimelineSource, by: TimelineRole, notRenewed: boolean): string | null {
  const rule = partnerActions[e.action];
  switch (rule) {
    case 'shown':
      return e.reason;
    case 'system':
      if (by === 'system') return e.reason;
      return e.action === 'partner.suspended' ? neutralReasons.suspendedByOperator : null;
    case 'partnerOrSponsor': {
      if (by === 'system') return e.reason;
      const author: ReasonAuthor = by === 'partner' || by === 'sponsor' ? by : 'operator';
      return e.action === 'offboarding.planned'
        ? partnerFacingPlanReason(e.reason ?? '', author)
        : partnerFacingEndReason('offboarded', e.reason ?? '', author, notRenewed);
    }
    case 'revocation':
      return neutralReasons.revoked;
    default:
      return null;
  }
}

function detailsOf(json: string | null): PartnerTimelineEvent['details'] {
  if (!json) return null;
  const all = JSON.parse(json) as Record<string, unknown>;
  const kept: Partial<Record<PartnerDetailField, string>> = {};
  for (const field of partnerDetailFields) {
    const value = all[field];
    if (typeof value === 'string') kept[field] = value;
  }
  return Object.keys(kept).length > 0 ? kept : null;
}
