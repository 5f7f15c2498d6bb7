import type { ApprovalStage } from './partner-states.js';

/**
 * Policy drift (issue #16, item 1): what today's policy would not grant of what was granted under
 * an earlier one, and where the policy's own parts disagree. Pure rules over facts the caller
 * gathers (schema/repositories/grants.ts, config/policy.ts); the stages a grant needs come from the
 * workflow's own rule (`requiredStages`), passed in, so "who must approve" is decided in one place.
 */

export type GrantDriftRule = 'scope_not_in_catalogue' | 'security_stage_missing' | 'beyond_max_access' | 'tier_not_in_policy';
export type PolicyDriftRule = 'route_scope_not_in_catalogue' | 'scope_without_route' | 'production_weaker_than_sandbox';

export interface DriftFinding<R extends string = GrantDriftRule> {
  rule: R;
  detail: string;
}

export interface GrantFacts {
  scopes: string[];
  /** ISO end of access, extensions included */
  accessUntil: string;
  /** when the grant was approved (its last approving decision); null for grants older than the decisions table */
  grantedAt: string | null;
  /** the stages whose approval is recorded for the grant */
  approvedStages: ApprovalStage[];
  rateLimitTier: string;
}

export interface TodaysPolicy {
  catalogue: ReadonlySet<string>;
  /** the stages today's policy requires for this grant's scopes in its environment */
  stagesRequired: readonly ApprovalStage[];
  maxAccessMs: number;
  tiers: ReadonlySet<string>;
}

/** Every way a live grant differs from what today's policy would grant. */
export function grantDrift(grant: GrantFacts, today: TodaysPolicy): DriftFinding[] {
  const findings: DriftFinding[] = [];
  const unknown = grant.scopes.filter((s) => !today.catalogue.has(s));
  if (unknown.length > 0) findings.push({ rule: 'scope_not_in_catalogue', detail: `granted scope(s) no longer in the catalogue: ${unknown.join(', ')}` });
  const missing = today.stagesRequired.filter((stage) => !grant.approvedStages.includes(stage));
  if (missing.includes('security')) findings.push({ rule: 'security_stage_missing', detail: 'today\'s policy requires the security stage for these scopes; the grant was approved without it' });
  if (grant.grantedAt) {
    const limit = Date.parse(grant.grantedAt) + today.maxAccessMs;
    if (Date.parse(grant.accessUntil) > limit) {
      findings.push({ rule: 'beyond_max_access', detail: `access until ${grant.accessUntil} is beyond today's maxAccess from the approval (${new Date(limit).toISOString()})` });
    }
  }
  if (!today.tiers.has(grant.rateLimitTier)) findings.push({ rule: 'tier_not_in_policy', detail: `rate tier ${grant.rateLimitTier} is not among today's tiers` });
  return findings;
}

/** The gateway's route map against the catalogue: routes guarded by unknown scopes, scopes no route uses. */
export function routeDrift(routes: ReadonlyArray<{ method: string; path: string; scope: string }>, catalogue: ReadonlySet<string>): DriftFinding<PolicyDriftRule>[] {
  const findings: DriftFinding<PolicyDriftRule>[] = [];
  for (const r of routes) {
    if (!catalogue.has(r.scope)) findings.push({ rule: 'route_scope_not_in_catalogue', detail: `${r.method} ${r.path} needs ${r.scope}, which the catalogue does not define: no grant can reach it` });
  }
  const used = new Set(routes.map((r) => r.scope));
  for (const scope of catalogue) {
    if (!used.has(scope)) findings.push({ rule: 'scope_without_route', detail: `${scope} is in the catalogue but no gateway route needs it` });
  }
  return findings;
}

/** A scope that production lets through with fewer stages than sandbox: the environment that matters is the weaker one. */
export function environmentDrift(stagesBy: ReadonlyArray<{ scope: string; sandbox: readonly ApprovalStage[]; production: readonly ApprovalStage[] }>): DriftFinding<PolicyDriftRule>[] {
  return stagesBy
    .filter((s) => s.production.length < s.sandbox.length)
    .map((s) => ({ rule: 'production_weaker_than_sandbox' as const, detail: `${s.scope}: production needs ${s.production.join(' + ')}, sandbox ${s.sandbox.join(' + ')}` }));
}
