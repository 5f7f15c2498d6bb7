import { Hono, type Context } from 'hono';
import { consoleAreas } from './areas.js';
import { mayHandOverSponsor, seeAllRoles, sponsorHandOverRoles } from '../../../domain/access-rules.js';
import { environments, isTerminal, partnerStates } from '../../../domain/partner-states.js';
import { listQuerySchema, sponsorChangeSchema } from '../../../schema/api.js';
import type { PartnerRow } from '../../../schema/database.js';
import { auditEventsOf } from '../../../schema/repositories/audit.js';
import { credentialsOf } from '../../../schema/repositories/credentials.js';
import { listPartners } from '../../../schema/repositories/partners.js';
import { changeSponsor } from '../../commands.js';
import { loadVisiblePartner } from '../../partner-view.js';
import { invalidInput } from '../../validation.js';
import type { PageAppEnv } from '../env.js';
import { bodyOf, formInput, parseWithSchema } from '../form-input.js';
import { FormErrors, formErrors, SelectField, TextField, type FieldErrors } from '../forms.js';
import type { PageDeps } from '../index.js';
import { PostForm } from '../layout.js';
import { redirectAfterPost, renderPage, requireOperatorPage } from '../render.js';
import { doneFlash, errorsFor, GrantFacts, NextDeadline, pendingExtensionOf, refusalOf, StateBadge, When } from './common.js';

/**
 * Every partner the operator may see (GET /v1/partners' filters and visibility: security,
 * auditors and admins see all, an approver its own), and one partner's page: state, deadlines,
 * keys (prefix, created, last used, expiry) and its audit timeline. Roles as GET /v1/partners.
 */

const readers = requireOperatorPage(...consoleAreas.partners.roles);

export function partnerPages({ deps }: PageDeps) {
  const app = new Hono<PageAppEnv>();

  app.get('/partners', readers, async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw new Error('unreachable: the guard admits operators only');
    const raw = {
      state: c.req.query('state') || undefined,
      environment: c.req.query('environment') || undefined,
      scope: c.req.query('scope') || undefined,
      sponsor: c.req.query('sponsor') || undefined,
      cursor: c.req.query('cursor') || undefined,
    };
    const parsed = listQuerySchema.safeParse(raw);
    const errors = parsed.success ? undefined : formErrors(invalidInput('query', parsed.error));
    const seesAll = principal.roles.some((r) => seeAllRoles.includes(r));
    const { rows, nextCursor } = parsed.success ? await listPartners(deps.db, { ...parsed.data, onlyVisibleTo: seesAll ? undefined : principal.name }) : { rows: [], nextCursor: null };
    const next = new URLSearchParams(Object.entries({ ...raw, cursor: nextCursor ?? '' }).filter((e): e is [string, string] => !!e[1]));
    return renderPage(
      c,
      'console',
      'Partners',
      <>
        <FormErrors errors={errors} />
        <form method="get" action="/console/partners" class="filters">
          <SelectField name="state" label="State" errors={errors} value={raw.state} options={[{ value: '', label: 'any state' }, ...partnerStates.map((s) => ({ value: s, label: s.replaceAll('_', ' ') }))]} />
          <SelectField name="environment" label="Environment" errors={errors} value={raw.environment} options={[{ value: '', label: 'any environment' }, ...environments.map((e) => ({ value: e, label: e }))]} />
          <SelectField name="scope" label="Scope" errors={errors} value={raw.scope} options={[{ value: '', label: 'any scope' }, ...Object.keys(deps.policy().scopes).sort().map((s) => ({ value: s, label: s }))]} />
          <TextField name="sponsor" label="Sponsor" errors={errors} value={raw.sponsor} />
          <button type="submit">Filter</button>
        </form>
        {rows.length === 0 ? (
          <p>No partner matches.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Partner</th>
                  <th scope="col">State</th>
                  <th scope="col">Environment</th>
                  <th scope="col">Sponsor</th>
                  <th scope="col">Access until</th>
                  <th scope="col">Next deadline</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((p) => (
                  <tr>
                    <td>
                      <a href={`/console/partners/${p.id}`}>{p.name}</a>
                    </td>
                    <td>
                      <StateBadge state={p.state} />
                    </td>
                    <td>{p.environment}</td>
                    <td>{p.sponsor}</td>
                    <td>
                      <When at={p.access_until} />
                    </td>
                    <td>
                      {p.next_deadline_at ? (
                        <>
                          <When at={p.next_deadline_at} /> {(p.next_deadline_action ?? '').replaceAll('_', ' ')}
                        </>
                      ) : (
                        ''
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {nextCursor ? (
          <p>
            <a href={`/console/partners?${next.toString()}`}>Next page</a>
          </p>
        ) : null}
      </>,
      { status: parsed.success ? 200 : 400 },
    );
  });

  const partnerPage = async (c: Context<PageAppEnv>, partner: PartnerRow, handOver: { values?: { sponsor?: string; reason?: string }; errors?: FieldErrors; status?: 400 } = {}) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw new Error('unreachable: the guard admits operators only');
    const [keys, events] = await Promise.all([credentialsOf(deps.db, partner.id), auditEventsOf(deps.db, partner.id)]);
    const policy = deps.policy();
    const extension = pendingExtensionOf(partner);
    const planned = partner.planned_offboarding ? (JSON.parse(partner.planned_offboarding) as { at: string; reason: string; by: string }) : null;
    const isSecurity = principal.roles.includes('security');
    const mayHandOver = mayHandOverSponsor(principal).ok && !isTerminal(partner.state);
    return renderPage(
      c,
      'console',
      partner.name,
      <>
        <dl class="facts">
          <dt>Partner id</dt>
          <dd>
            <code>{partner.id}</code>
          </dd>
          <dt>State</dt>
          <dd>
            <StateBadge state={partner.state} />
            {partner.state === 'pending_approval' ? ` (${partner.stage ?? 'sponsor'} stage${partner.escalated ? ', escalated' : ''})` : ''}
          </dd>
          <dt>Environment</dt>
          <dd>{partner.environment}</dd>
          <dt>Sponsor</dt>
          <dd>{partner.sponsor}</dd>
          <dt>Contact</dt>
          <dd>{partner.contact_email}</dd>
          <dt>Requested</dt>
          <dd>
            <When at={partner.created_at} /> by {partner.requested_by}
          </dd>
          <GrantFacts policy={policy} partner={partner} />
          <dt>Next deadline</dt>
          <dd>
            <NextDeadline partner={partner} />
          </dd>
          <dt>Recertification</dt>
          <dd>
            cycle {partner.recert_cycle}, last certified <When at={partner.last_certified_at} />
          </dd>
          {extension ? (
            <>
              <dt>Extension asked</dt>
              <dd>
                to <When at={extension.accessUntil} />: “{extension.reason}”
              </dd>
            </>
          ) : null}
          {planned ? (
            <>
              <dt>Offboarding planned</dt>
              <dd>
                <When at={planned.at} /> by {planned.by}: “{planned.reason}”
              </dd>
            </>
          ) : null}
          {partner.end_reason ? (
            <>
              <dt>Ended</dt>
              <dd>
                <When at={partner.ended_at} />: {partner.end_reason}
              </dd>
            </>
          ) : null}
          <dt>Rate limit tier</dt>
          <dd>{partner.rate_limit_tier}</dd>
        </dl>
        {isSecurity && !isTerminal(partner.state) ? (
          <p>
            <a class="button danger" href={`/console/security?partnerId=${partner.id}`}>
              Emergency revocation…
            </a>
          </p>
        ) : null}
        {mayHandOver ? (
          <section aria-labelledby="hand-over">
            <h2 id="hand-over">Hand over to another sponsor</h2>
            <FormErrors errors={handOver.errors} />
            <PostForm action={`/console/partners/${partner.id}/sponsor`} csrfToken={c.get('csrfToken')}>
              <TextField name="sponsor" label="New sponsor" required hint="An active approver; pending approvals and reviews follow them." errors={handOver.errors} value={handOver.values?.sponsor} />
              <TextField name="reason" label="Reason" multiline required errors={handOver.errors} value={handOver.values?.reason} />
              <button type="submit">Hand over</button>
            </PostForm>
          </section>
        ) : null}
        <h2>Keys</h2>
        {keys.length === 0 ? (
          <p>No key issued.</p>
        ) : (
          <div class="table-wrap">
            <table class="keys">
              <thead>
                <tr>
                  <th scope="col">Prefix</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Retires</th>
                </tr>
              </thead>
              <tbody>
                {keys.map((k) => (
                  <tr>
                    <td>
                      <code>{k.prefix}</code>
                    </td>
                    <td>{k.status}</td>
                    <td>
                      <When at={k.created_at} />
                    </td>
                    <td>{k.last_used_at ? <When at={k.last_used_at} /> : 'never'}</td>
                    <td>
                      <When at={k.expires_at} />
                    </td>
                    <td>{k.retire_at ? <When at={k.retire_at} /> : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <h2>Timeline</h2>
        <ol class="timeline">
          {events.map((e) => (
            <li>
              <When at={e.at} /> <code>{e.action}</code> by {e.actor}
              {e.before || e.after ? ` (${e.before ?? '—'} → ${e.after ?? '—'})` : ''}
              {e.reason ? `: “${e.reason}”` : ''}
            </li>
          ))}
        </ol>
        <p>
          <a href={`/console/audit?partnerId=${partner.id}`}>This partner in the audit trail</a>
        </p>
      </>,
      { flash: doneFlash(c), status: handOver.status },
    );
  };

  app.get('/partners/:id', readers, async (c) => partnerPage(c, await loadVisiblePartner(deps.db, c.get('principal'), c.req.param('id'))));

  // Sponsor hand-over (POST /v1/partners/{id}/sponsor: admin or security), the service in api/commands.ts.
  app.post('/partners/:id/sponsor', requireOperatorPage(...sponsorHandOverRoles), async (c) => {
    const partner = await loadVisiblePartner(deps.db, c.get('principal'), c.req.param('id'));
    const form = await formInput(c);
    const body = bodyOf(form, ['sponsor', 'reason']);
    const values = { sponsor: body.sponsor as string | undefined, reason: body.reason as string | undefined };
    try {
      await changeSponsor(deps, c.get('principal'), partner.id, parseWithSchema(sponsorChangeSchema, body));
      return redirectAfterPost(c, `/console/partners/${partner.id}?done=sponsor-changed`);
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal || refusal.status === 401 || refusal.status === 404) throw err;
      // "not an active approver", "already the sponsor": about the successor, said next to it
      const errors = refusal.status === 422 ? { sponsor: [refusal.detail ?? refusal.title] } : formErrors(refusal);
      return partnerPage(c, partner, { values, errors: errorsFor(errors, ['sponsor', 'reason']), status: refusal.status as 400 });
    }
  });

  return app;
}
