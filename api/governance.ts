import type { GatewayRoutes } from '../config/gateway-routes.js';
import { toLifecyclePolicy, type Policy } from '../config/policy.js';
import { environmentDrift, grantDrift, routeDrift } from '../domain/policy-drift.js';
import { environments } from '../domain/partner-states.js';
import type { Db } from '../schema/db.js';
import { liveGrants } from '../schema/repositories/grants.js';
import { requiredStages, todaysPolicy } from '../workflows/state.js';

/**
 * The drift report (issue #16, item 1): every live grant held against today's policy of its
 * environment, the gateway's route map against the catalogue, and the two environments side by
 * side. Read-only; the rules are domain/policy-drift.ts, the stages a grant needs the workflow's own
 * `requiredStages`.
 */
export async function driftReport(db: Db, policy: Policy, routes: GatewayRoutes, now = new Date()) {
  const catalogue = new Set(Object.keys(policy.scopes));
  const lifecycle = Object.fromEntries(environments.map((e) => [e, toLifecyclePolicy(policy, e)])) as Record<(typeof environments)[number], ReturnType<typeof toLifecyclePolicy>>;
  const grants = (await liveGrants(db))
    .map((g) => {
      const findings = grantDrift(g, todaysPolicy(lifecycle[g.environment], g.scopes));
      return { partnerId: g.partnerId, name: g.name, environment: g.environment, state: g.state, scopes: g.scopes, policyVersion: g.policyVersion, findings };
    })
    .filter((g) => g.findings.length > 0);
  const scopes = Object.entries(policy.scopes).map(([scope, s]) => ({
    scope,
    risk: s.risk,
    sandbox: requiredStages(lifecycle.sandbox, [scope]),
    production: requiredStages(lifecycle.production, [scope]),
  }));
  return {
    checkedAt: now.toISOString(),
    policyVersion: policy.version,
    grants,
    routes: routeDrift(routes.routes, catalogue),
    environments: {
      findings: environmentDrift(scopes),
      scopes,
      settings: environments.map((e) => {
        const p = policy.environments[e];
        return {
          environment: e,
          securityApproval: p.securityApproval,
          autoApprove: p.autoApprove?.scopes ?? null,
          maxAccessMs: p.maxAccess,
          recertifyEveryMs: p.recertifyEvery,
          rateLimitTiers: Object.keys(p.rateLimitTiers),
        };
      }),
    },
  };
}
