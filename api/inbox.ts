import { isWaitingOn, operatorLabel, type OperatorFacts } from '../domain/access-rules.js';
import type { ApprovalStage } from '../domain/partner-states.js';
import type { PartnerRow } from '../schema/database.js';
import { inboxCandidates } from '../schema/repositories/partners.js';
import type { AppDeps } from './deps.js';
import { partnerFacts } from './partner-view.js';

/** What waits for an operator, and which kind of decision it is (GET /v1/inbox and the console's inbox). */
export interface InboxItem {
  partner: PartnerRow;
  kind: 'approval' | 'extension' | 'recertification';
  /** the approval stage waiting, for an approval */
  stage: ApprovalStage | null;
}

/**
 * The decisions waiting for this operator: the candidates the repository selects in SQL, each
 * checked again against `isWaitingOn` (domain/access-rules.ts), the rule the workflow's validators
 * ask, so the inbox never offers a decision the workflow would refuse.
 */
export async function inboxOf(deps: Pick<AppDeps, 'db'>, operator: OperatorFacts): Promise<InboxItem[]> {
  const me = operatorLabel(operator);
  const { rows, approvedByMe } = await inboxCandidates(deps.db, {
    label: me,
    name: operator.name,
    isApprover: operator.roles.includes('approver'),
    isSecurity: operator.roles.includes('security'),
  });
  return rows
    .filter((p) =>
      isWaitingOn(operator, {
        ...partnerFacts(p),
        approvedBy: p.stage === 'security' && approvedByMe.has(p.id) ? [me] : [],
        pendingExtension: p.pending_extension !== null,
        // the stage the workflow wrote with the request (absent: the sponsor's)
        pendingExtensionStage: p.pending_extension ? ((JSON.parse(p.pending_extension) as { stage?: ApprovalStage }).stage ?? 'sponsor') : undefined,
      }),
    )
    .map((p) => ({
      partner: p,
      kind: p.state === 'pending_approval' ? ('approval' as const) : p.pending_extension && p.state !== 'suspended' ? ('extension' as const) : ('recertification' as const),
      stage: p.state === 'pending_approval' ? ((p.stage as ApprovalStage | null) ?? 'sponsor') : null,
    }));
}
