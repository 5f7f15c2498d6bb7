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
async function reviewsWaitingForSecurity(deps: Pick<AppDeps, 'db' | 'policy'>, operator: OperatorFacts): Promise<InboxItem[]> {
  const rows = (await reviewsOpenToSecurity(deps.db, { label: operatorLabel(operator), name: operator.name })).filter((p) => mayDecideAsRequester(operator, partnerFacts(p)).ok);
  const grants = new Map((await liveGrantsOf(deps.db, rows.map((p) => p.id))).map((g) => [g.partnerId, g]));
  const policy = deps.policy();
  return rows.flatMap((partner) => {
    const grant = grants.get(partner.id);
    if (!grant) return [];
    const drift = grantDrift(grant, todaysPolicy(toLifecyclePolicy(policy, grant.environment), grant.scopes));
    return drift.some((f) => f.rule === 'security_stage_missing') ? [{ partner, kind: 'recertification' as const, stage: 'security' as const, drift }] : [];
  });
}
