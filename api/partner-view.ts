import type { Db } from '../schema/db.js';
import { auditEventsWithStagesOf } from '../schema/repositories/audit.js';
import { credentialsOf } from '../schema/repositories/credentials.js';
import { rolesByName } from '../schema/repositories/operators.js';
import { findPartner } from '../schema/repositories/partners.js';
import type { PartnerRow } from '../schema/database.js';
import { hashesEqual } from '../domain/api-key.js';
import { maySee, type PartnerFacts, type PartnerSelf } from '../domain/access-rules.js';
import type { ApprovalStage } from '../domain/partner-states.js';
import { grantDrift } from '../domain/policy-drift.js';
import { toLifecyclePolicy, type Policy } from '../config/policy.js';
import { liveGrantOf } from '../schema/repositories/grants.js';
import { todaysPolicy } from '../workflows/state.js';
import type { Principal } from './auth.js';
import { partnerTimeline, type PartnerTimelineEvent } from './partner-timeline.js';
import { problems } from './problem.js';

const parseJson = <T>(value: string | null): T | null => (value === null ? null : (JSON.parse(value) as T));

/**
 * Loads the partner and checks the caller may see it: security, auditors and admins see every
 * partner; an approver sees those it sponsors (and, once escalated, requests waiting for any
 * approver); a partner sees itself. Anything else is a 404, so ids cannot be probed.
 */
export async function loadVisiblePartner(db: Db, principal: Principal, partnerId: string): Promise<PartnerRow> {
  const partner = await findPartner(db, partnerId);
  if (principal.kind === 'anonymous') throw problems.unauthorized();
  if (!partner || !canSee(principal, partner)) throw problems.notFound('no such partner');
  return partner;
}

/** The partners row as the access rules (domain/access-rules.ts) see a partner. */
export const partnerFacts = (partner: PartnerRow): PartnerFacts => ({
  partnerId: partner.id,
  state: partner.state,
  stage: partner.stage as ApprovalStage | null,
  sponsor: partner.sponsor,
  requestedBy: partner.requested_by,
  escalated: partner.escalated === 1,
  suspendedBySecurity: partner.suspended_by !== null,
});

/**
 * The partner acting for itself: a request token or key of this partner (canSee has already
 * resolved which partner a request token opens), otherwise null.
 */
export const partnerSelf = (principal: Principal, partner: PartnerRow): PartnerSelf | null =>
  (principal.kind === 'request_token' || principal.kind === 'partner_key') && canSee(principal, partner) ? { partnerId: partner.id } : null;

export function canSee(principal: Principal, partner: PartnerRow): boolean {
  switch (principal.kind) {
    case 'operator':
      return maySee(principal, partnerFacts(partner));
    case 'request_token':
      return hashesEqual(partner.request_token_hash, principal.tokenHash);
    case 'partner_key':
      return principal.partnerId === partner.id;
    default:
      return false;
  }
}

export const partnerSummary = (p: PartnerRow) => ({
  partnerId: p.id,
  name: p.name,
  environment: p.environment,
  sponsor: p.sponsor,
  state: p.state,
  pendingStage: p.state === 'pending_approval' ? ((p.stage as ApprovalStage | null) ?? 'sponsor') : null,
  scopes: JSON.parse(p.scopes) as string[],
  accessUntil: p.access_until,
  nextDeadline: p.next_deadline_at ? { at: p.next_deadline_at, action: p.next_deadline_action ?? '' } : null,
});

/**
 * The partner's events as the partner may read them (api/partner-timeline.ts): the approval stage
 * of each decision and the roles of the operators named tell in which role someone acted.
 */
export async function loadPartnerTimeline(db: Db, partner: PartnerRow): Promise<PartnerTimelineEvent[]> {
  const events = await auditEventsWithStagesOf(db, partner.id);
  const names = [...new Set(events.filter((e) => e.actor.startsWith('operator:')).map((e) => e.actor.slice('operator:'.length)))];
  const operatorRoles = await rolesByName(db, names);
  return partnerTimeline(events, { sponsor: partner.sponsor, operatorRoles });
}

const endings = new Set(['approval.rejected', 'approval.expired', 'partner.offboarded', 'partner.revoked']);

/**
 * The partner view as the partner itself may read it: the end reason and a planned offboarding
 * say what its timeline says (never security's or an administrator's note, never an operator's
 * name); everything else is the partner's own data.
 */
export async function partnerOwnView(db: Db, partner: PartnerRow) {
  const view = await partnerView(db, partner);
  if (view.endReason === null && view.plannedOffboarding === null) return view;
  const timeline = await loadPartnerTimeline(db, partner);
  const latest = [...timeline].reverse();
  const ending = latest.find((e) => endings.has(e.action));
  const plan = latest.find((e) => e.action === 'offboarding.planned');
  return {
    ...view,
    endReason: view.endReason === null ? null : (ending?.reason ?? null),
    plannedOffboarding: view.plannedOffboarding && plan ? { at: view.plannedOffboarding.at, reason: plan.reason ?? '', by: plan.by } : null,
  };
}

/**
 * A live grant held against today's policy of its environment (issue #16 item 1), as the reviewer
 * sees it before answering a recertification: the drift report's rules (domain/policy-drift.ts)
 * for this one grant. Null for a partner that holds no grant.
 */
export async function grantDriftToday(db: Db, partnerId: string, policy: Policy) {
  const grant = await liveGrantOf(db, partnerId);
  if (!grant) return null;
  return { policyVersion: policy.version, findings: grantDrift(grant, todaysPolicy(toLifecyclePolicy(policy, grant.environment), grant.scopes)) };
}

/** What is shown of a waiting extension: not who approved a stage of it (the audit trail says that). */
function pendingExtensionView(json: string | null) {
  const ext = parseJson<{ accessUntil: string; reason: string; requestedAt: string; stage?: string }>(json);
  return ext && { accessUntil: ext.accessUntil, reason: ext.reason, requestedAt: ext.requestedAt, ...(ext.stage ? { stage: ext.stage } : {}) };
}

/** `policy`: today's, for an operator's view, which then shows the grant's drift against it. */
export async function partnerView(db: Db, partner: PartnerRow, policy?: Policy) {
  const credentials = await credentialsOf(db, partner.id);
  const drift = policy ? { drift: await grantDriftToday(db, partner.id, policy) } : {};
  return {
    ...partnerSummary(partner),
    escalated: partner.escalated === 1,
    rateLimitTier: partner.rate_limit_tier,
    policyVersion: partner.policy_version,
    recertificationCycle: partner.recert_cycle,
    lastCertifiedAt: partner.last_certified_at,
    pendingExtension: pendingExtensionView(partner.pending_extension),
    plannedOffboarding: parseJson<{ at: string; reason: string; by: string }>(partner.planned_offboarding),
    endReason: partner.end_reason,
    credentials: credentials.map((k) => ({
      keyId: k.key_id,
      prefix: k.prefix,
      status: k.status,
      expiresAt: k.expires_at,
      retireAt: k.retire_at,
      lastUsedAt: k.last_used_at,
    })),
    createdAt: partner.created_at,
    updatedAt: partner.updated_at,
    ...drift,
  };
}
