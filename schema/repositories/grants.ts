import { liveStates, type ApprovalStage, type Environment, type PartnerState } from '../../domain/partner-states.js';
import type { Db } from '../db.js';

/** Live grants with what their approval (and a security operator's recertification) recorded: what the drift report (api/governance.ts) checks against today's policy. */

export interface LiveGrant {
  partnerId: string;
  name: string;
  environment: Environment;
  state: PartnerState;
  scopes: string[];
  accessUntil: string;
  /** the policy version the grant was last checked against (approval, recertification) */
  policyVersion: string;
  rateLimitTier: string;
  /** the last approving decision of the approval, or null */
  grantedAt: string | null;
  approvedStages: ApprovalStage[];
}

export async function liveGrants(db: Db): Promise<LiveGrant[]> {
  return grants(db);
}

/** One partner's grant, if it is live: what the reviewer's view (api/partner-view.ts) holds against today's policy. */
export async function liveGrantOf(db: Db, partnerId: string): Promise<LiveGrant | undefined> {
  return (await grants(db, [partnerId]))[0];
}

/** The live grants among these partners (the reviews security's inbox holds against today's policy: api/inbox.ts). */
export async function liveGrantsOf(db: Db, partnerIds: readonly string[]): Promise<LiveGrant[]> {
  return partnerIds.length === 0 ? [] : grants(db, partnerIds);
}

async function grants(db: Db, partnerIds?: readonly string[]): Promise<LiveGrant[]> {
  let query = db
    .selectFrom('partners')
    .select(['id', 'name', 'environment', 'state', 'scopes', 'access_until', 'policy_version', 'rate_limit_tier'])
    .where('state', 'in', [...liveStates]);
  if (partnerIds !== undefined) query = query.where('id', 'in', partnerIds);
  const partners = await query.orderBy('id').execute();
  if (partners.length === 0) return [];
  // one pass over the approvals of every partner (a grant's stages and when it was granted), not one query per grant;
  // a security operator's recertification answer is the security stage too, but does not move the approval's date
  let decisions = db
    .selectFrom('decisions')
    .select(['partner_id', 'kind', 'stage', (eb) => eb.fn.max('at').as('at')])
    .where((eb) =>
      eb.or([
        eb.and([eb('kind', '=', 'approval'), eb('decision', '=', 'approve')]),
        eb.and([eb('kind', '=', 'recertification'), eb('stage', '=', 'security')]),
      ]),
    );
  // the live partners' decisions only: ended partners' histories grow without bound and matter to no grant
  decisions =
    partnerIds !== undefined
      ? decisions.where('partner_id', 'in', partnerIds)
      : decisions.where('partner_id', 'in', db.selectFrom('partners').select('partners.id').where('partners.state', 'in', [...liveStates]));
  const approvals = await decisions.groupBy(['partner_id', 'kind', 'stage']).execute();
  const byPartner = new Map<string, { stages: ApprovalStage[]; at: string | null }>();
  for (const a of approvals) {
    const entry = byPartner.get(a.partner_id) ?? { stages: [], at: null };
    if (a.stage && !entry.stages.includes(a.stage as ApprovalStage)) entry.stages.push(a.stage as ApprovalStage);
    if (a.kind === 'approval' && a.at && (!entry.at || a.at > entry.at)) entry.at = a.at;
    byPartner.set(a.partner_id, entry);
  }
  return partners.map((p) => ({
    partnerId: p.id,
    name: p.name,
    environment: p.environment,
    state: p.state,
    scopes: JSON.parse(p.scopes) as string[],
    accessUntil: p.access_until,
    policyVersion: p.policy_version,
    rateLimitTier: p.rate_limit_tier,
    grantedAt: byPartner.get(p.id)?.at ?? null,
    approvedStages: byPartner.get(p.id)?.stages ?? [],
  }));
}
