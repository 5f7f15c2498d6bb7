import { toLifecyclePolicy } from '../config/policy.js';
import { isWaitingOn, mayDecideAsRequester, operatorLabel, type OperatorFacts } from '../domain/access-rules.js';
import type { ApprovalStage } from '../domain/partner-states.js';
import { grantDrift, type DriftFinding } from '../domain/policy-drift.js';
import type { PartnerRow } from '../schema/database.js';
import { liveGrantsOf } from '../schema/repositories/grants.js';
import { inboxCandidates, reviewsOpenToSecurity } from '../schema/repositories/partners.js';
import { todaysPolicy } from '../workflows/state.js';
import type { AppDeps } from './deps.js';
import { partnerFacts } from './partner-view.js';

/** What waits for an operator, and which kind of decision it is (GET /v1/inbox and the console's inbox). */
export interface InboxItem {
  partner: PartnerRow;
  kind: 'approval' | 'extension' | 'recertification';
  /** the approval stage waiting, for an approval; `security` for a review only security can keep (its drift below) */
  stage: ApprovalStage | null;
  /** a review waiting for the security stage: the grant's drift against today's policy, which is why */
  drift?: DriftFinding[];
}

/**
 * Where a review is answered from: the sponsor's own reviews in the recertification queue, those
 * only security can keep (the security stage a drifted grant lacks) in security's inbox.
 */
export const isSponsorsReview = (i: Pick<InboxItem, 'kind' | 'stage'>): boolean => i.kind === 'recertification' && i.stage !== 'security';
export const isSecuritysReview = (i: Pick<InboxItem, 'kind' | 'stage'>): boolean => i.kind === 'recertification' && i.stage === 'security';

/**
 * The decisions waiting for this operator: the candidates the repository selects in SQL, each
 * checked again against `isWaitingOn` (domain/access-rules.ts), the rule the workflow's validators
 * ask, so the inbox never offers a decision the workflow would refuse. A security operator also
 * gets the reviews only it can keep (`reviewsWaitingForSecurity`).
 */
export async function inboxOf(deps: Pick<AppDeps, 'db' | 'policy'>, operator: OperatorFacts): Promise<InboxItem[]> {
  const me = operatorLabel(operator);
  const isSecurity = operator.roles.includes('security');
  const [{ rows, approvedByMe }, reviews] = await Promise.all([
    inboxCandidates(deps.db, { label: me, name: operator.name, isApprover: operator.roles.includes('approver'), isSecurity }),
    isSecurity ? reviewsWaitingForSecurity(deps, operator) : [],
  ]);
  const decisions = rows
    .filter((p) =>
      isWaitingOn(operator, {
        ...partnerFacts(p),
        approvedBy: p.stage === 'security' && approvedByMe.has(p.id) ? [me] : [],
        pendingExtension: p.pending_extension !== null,
        ...pendingExtensionFacts(p.pending_extension),
      }),
    )
    .map((p) => ({
      partner: p,
      kind: p.state === 'pending_approval' ? ('approval' as const) : p.pending_extension && p.state !== 'suspended' ? ('extension' as const) : ('recertification' as const),
      stage: p.state === 'pending_approval' ? ((p.stage as ApprovalStage | null) ?? 'sponsor') : null,
    }));
  return [...decisions, ...reviews];
}

/**
 * The extension's stage as the workflow wrote it with the request (absent: the sponsor's), and at
 * the security stage who approved the sponsor's (written since; absent in older rows).
 */
export function pendingExtensionFacts(json: string | null): { pendingExtensionStage?: ApprovalStage; extensionApprovedBy?: string } {
  if (!json) return {};
  const ext = JSON.parse(json) as { stage?: ApprovalStage; approvedBy?: string };
  return { pendingExtensionStage: ext.stage ?? 'sponsor', ...(ext.approvedBy ? { extensionApprovedBy: ext.approvedBy } : {}) };
}

/**
 * The reviews waiting for the security stage: a due review whose grant today's policy gives only
 * with a security stage it never had. The sponsor's keep is refused with PolicyDrift, and only a
 * security operator other than the sponsor may keep it (workflows/rules.ts `checkRecertificationDrift`,
 * with the same drift rules: domain/policy-drift.ts against `todaysPolicy`).
 */
export async function reviewsWaitingForSecurity(deps: Pick<AppDeps, 'db' | 'policy'>, operator: OperatorFacts, page = 500, most = 500): Promise<InboxItem[]> {
  const me = { label: operatorLabel(operator), name: operator.name };
  const policy = deps.policy();
  const found: InboxItem[] = [];
  // page by page: the drifted reviews may lie anywhere among the due ones, so the bound is on what
  // is listed, never on what is looked at
  for (let offset = 0; found.length < most; offset += page) {
    const rows = await reviewsOpenToSecurity(deps.db, me, { limit: page, offset });
    const grants = new Map((await liveGrantsOf(deps.db, rows.map((p) => p.id))).map((g) => [g.partnerId, g]));
    for (const partner of rows) {
      const grant = grants.get(partner.id);
      if (!grant || !mayDecideAsRequester(operator, partnerFacts(partner)).ok) continue;
      const drift = grantDrift(grant, todaysPolicy(toLifecyclePolicy(policy, grant.environment), grant.scopes));
      if (drift.some((f) => f.rule === 'security_stage_missing')) found.push({ partner, kind: 'recertification', stage: 'security', drift });
    }
    if (rows.length < page) break;
  }
  return found.slice(0, most);
}
