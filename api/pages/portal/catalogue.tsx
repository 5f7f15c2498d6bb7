import type { FC } from 'hono/jsx';
import type { GatewayRoutes } from '../../../config/gateway-routes.js';
import type { Policy } from '../../../config/policy.js';
import { formatDuration, formatRateTier } from '../format.js';

/**
 * The API catalogue (no sign-in): what a partner may ask for. Scopes with their risk and
 * description come from the policy in force, the routes each scope opens from the gateway's route
 * map (the file the gateway decides on), the environments' rules from the policy. Plain HTML:
 * readable without JavaScript.
 */
export const Catalogue: FC<{ policy: Policy; routes: GatewayRoutes }> = ({ policy, routes }) => {
  const routesOf = (scope: string) => routes.routes.filter((r) => r.scope === scope);
  const scopes = Object.entries(policy.scopes).sort(([a], [b]) => a.localeCompare(b));
  return (
    <>
      <p>
        Partners call our APIs through the gateway with an API key limited to the scopes they were granted. Pick the scopes your
        application needs, then <a href="/portal/request">request access</a>: your sponsor approves, and security as well for
        high-risk scopes or where the environment requires it.
      </p>
      <h2 id="scopes">Scopes</h2>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Scopes, their risk and the routes they open</caption>
          <thead>
            <tr>
              <th scope="col">Scope</th>
              <th scope="col">Risk</th>
              <th scope="col">What it allows</th>
              <th scope="col">Routes ({routes.environment} gateway)</th>
            </tr>
          </thead>
          <tbody>
            {scopes.map(([name, scope]) => (
              <tr id={`scope-${name.replace(/[^a-z0-9-]/g, '-')}`}>
                <th scope="row">
                  <code>{name}</code>
                </th>
                <td>
                  <span class={`badge ${scope.risk}`}>{scope.risk} risk</span>
                </td>
                <td>{scope.description}</td>
                <td>
                  {routesOf(name).length === 0 ? (
                    <span class="note">no gateway route yet</span>
                  ) : (
                    <ul class="plain">
                      {routesOf(name).map((r) => (
                        <li>
                          <code>
                            {r.method} {r.path}
                            {r.path.endsWith('/') ? '…' : ''}
                          </code>
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2 id="environments">Environments</h2>
      <div class="cards">
        {(Object.entries(policy.environments) as Array<[string, Policy['environments']['sandbox']]>).map(([name, env]) => (
          <section class="card" aria-labelledby={`env-${name}`}>
            <h3 id={`env-${name}`}>{name}</h3>
            <dl class="facts">
              <dt>Longest access</dt>
              <dd>{formatDuration(env.maxAccess)} from submission</dd>
              <dt>Security approval</dt>
              <dd>{env.securityApproval === 'always' ? 'always (after the sponsor)' : 'for high-risk scopes (after the sponsor)'}</dd>
              <dt>Decision within</dt>
              <dd>{formatDuration(env.approvalTimeout)}, or the request expires</dd>
              <dt>Recertification</dt>
              <dd>every {formatDuration(env.recertifyEvery)} by your sponsor</dd>
              <dt>Key rotation overlap</dt>
              <dd>the old key works {formatDuration(env.rotationOverlap)} after a rotation</dd>
              <dt>Rate tiers</dt>
              <dd>
                <ul class="plain">
                  {Object.entries(env.rateLimitTiers).map(([tier, limit]) => (
                    <li>
                      {formatRateTier(tier, limit)}
                      {tier === env.defaultRateLimitTier ? ' (default)' : ''}
                    </li>
                  ))}
                </ul>
              </dd>
            </dl>
          </section>
        ))}
      </div>
      <p>
        The JSON API behind this portal is described in the <a href="/docs">API reference</a>.
      </p>
    </>
  );
};
