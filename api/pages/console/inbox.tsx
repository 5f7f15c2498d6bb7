import { Hono, type Context } from 'hono';
import { consoleAreas } from './areas.js';
import type { FC } from 'hono/jsx';
import { toLifecyclePolicy, type Policy } from '../../../config/policy.js';
import { decisionSchema } from '../../../schema/api.js';
import type { AuditEventRow, PartnerRow } from '../../../schema/database.js';
import { auditEventsOf } from '../../../schema/repositories/audit.js';
import { inboxOf, isSecuritysReview, isSponsorsReview, type InboxItem } from '../../inbox.js';
import { decide } from '../../lifecycle-commands.js';
import { loadVisiblePartner } from '../../partner-view.js';
import type { PageAppEnv } from '../env.js';
import { formatRateTier } from '../format.js';
import { bodyOf, formInput, parseWithSchema } from '../form-input.js';
import { CheckboxGroup, FormErrors, formErrors, SelectField, TextField, type FieldErrors } from '../forms.js';
import type { PageDeps } from '../index.js';
import { PostForm } from '../layout.js';
import { redirectAfterPost, renderPage, requireOperatorPage } from '../render.js';
import { doneFlash, DriftFindings, errorsFor, GrantFacts, NextDeadline, pendingExtensionOf, refusalOf, scopesOf, StateBadge, When } from './common.js';

/**
 * The approver inbox (GET /v1/inbox's decisions, for a person): what waits for me, oldest request
 * first, with what the decision needs (the justification, scopes with their risk, the requested
 * end, who approved earlier stages), and a decision page per item: approve or reject, narrowing
 * scopes or shortening the end, always with a reason. Roles as the JSON routes: the inbox and
 * decisions are for approvers and security.
 */

const deciders = requireOperatorPage(...consoleAreas.inbox.roles);

/** Earlier stages' approvals, from the partner's audit events (the row does not say who approved). */
const approvalsOf = (events: readonly AuditEventRow[]) => events.filter((e) => e.action === 'approval.granted');

const RequestFacts: FC<{ policy: Policy; partner: PartnerRow; item?: Pick<InboxItem, 'kind' | 'stage'>; approvals: AuditEventRow[] }> = ({ policy, partner, item, approvals }) => {
  const extension = pendingExtensionOf(partner);
  return (
    <dl class="facts">
      {item ? (
        <>
          <dt>Waiting for</dt>
          <dd>{item.kind === 'approval' ? `approval, ${item.stage} stage` : item.kind === 'extension' ? 'an extension decision' : item.stage ? `recertification, ${item.stage} stage` : 'recertification'}</dd>
        </>
      ) : null}
      <dt>State</dt>
      <dd>
        <StateBadge state={partner.state} />
      </dd>
      <dt>Environment</dt>
      <dd>{partner.environment}</dd>
      <dt>Requested</dt>
      <dd>
        <When at={partner.created_at} /> by {partner.requested_by === 'partner' ? 'the partner' : partner.requested_by}
      </dd>
      <dt>Sponsor</dt>
      <dd>{partner.sponsor}</dd>
      <dt>Contact</dt>
      <dd>{partner.contact_email}</dd>
      <GrantFacts policy={policy} partner={partner} />
      {extension ? (
        <>
          <dt>Extension asked</dt>
          <dd>
            to <When at={extension.accessUntil} />: “{extension.reason}” (<When at={extension.requestedAt} />)
          </dd>
        </>
      ) : null}
      <dt>Earlier approvals</dt>
      <dd>
        {approvals.length === 0 ? (
          <span class="note">none yet</span>
        ) : (
          <ul>
            {approvals.map((a) => (
              <li>
                {a.actor.replace(/^operator:/, '')}, <When at={a.at} />
                {a.reason ? `: “${a.reason}”` : ''}
              </li>
            ))}
          </ul>
        )}
      </dd>
      <dt>Next deadline</dt>
      <dd>
        <NextDeadline partner={partner} />
      </dd>
    </dl>
  );
};

interface DecisionValues {
  scopes?: string[];
  accessUntil?: string;
  rateLimitTier?: string;
  reason?: string;
}

/**
 * The rate tiers an approval may leave the partner with: the one it has (the policy's default, or
 * what an earlier stage granted) and those the policy lets an approver grant (`approverRateLimitTiers`,
 * which the workflow's validator holds the decision to). One tier alone is no choice.
 */
export function tierChoices(policy: Policy, partner: Pick<PartnerRow, 'environment' | 'rate_limit_tier'>): Array<{ value: string; label: string }> {
  const env = policy.environments[partner.environment];
  // The partner's own tier stays a choice (the first, selected) even when today's policy no longer
  // lists it: dropped from the options, the browser would select another, and a click on Approve
  // would change the tier without the approver having touched it.
  const tiers = [...new Set([partner.rate_limit_tier, ...(toLifecyclePolicy(policy, partner.environment).approverRateLimitTiers ?? [])])].filter(
    (t) => t === partner.rate_limit_tier || env.rateLimitTiers[t],
  );
  return tiers.map((t) => {
    const tier = env.rateLimitTiers[t];
    if (!tier) return { value: t, label: `${t} (the partner’s tier; no longer in today’s policy)` };
    return { value: t, label: `${formatRateTier(t, tier)}${t === env.defaultRateLimitTier ? ' (the policy’s default)' : ''}` };
  });
}

export function inboxPages({ deps, limiter }: PageDeps) {
  const app = new Hono<PageAppEnv>();

  app.get('/', deciders, async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw new Error('unreachable: the guard admits operators only');
    const items = (await inboxOf(deps, principal)).sort((a, b) => (a.partner.created_at < b.partner.created_at ? -1 : a.partner.created_at > b.partner.created_at ? 1 : 0));
    const decisions = items.filter((i) => i.kind !== 'recertification');
    // the reviews only security can keep are answered from here; the sponsor's own are in the recertification queue
    const securityReviews = items.filter(isSecuritysReview);
    const reviews = items.filter(isSponsorsReview);
    const approvals = new Map(await Promise.all([...decisions, ...securityReviews].map(async (i) => [i.partner.id, approvalsOf(await auditEventsOf(deps.db, i.partner.id))] as const)));
    const policy = deps.policy();
    return renderPage(
      c,
      'console',
      'Inbox',
      <>
        <p class="hint">Decisions waiting for you, oldest request first.</p>
        {decisions.length === 0 && securityReviews.length === 0 ? <p>Nothing waits for your decision.</p> : null}
        {decisions.map((item) => (
          <section class="card" aria-labelledby={`item-${item.partner.id}`}>
            <h2 id={`item-${item.partner.id}`}>
              <a href={`/console/partners/${item.partner.id}`}>{item.partner.name}</a>
            </h2>
            <RequestFacts policy={policy} partner={item.partner} item={item} approvals={approvals.get(item.partner.id) ?? []} />
            <p>
              <a class="button" href={`/console/decisions/${item.partner.id}`}>
                Decide on {item.partner.name}
              </a>
            </p>
          </section>
        ))}
        {securityReviews.length > 0 ? (
          <>
            <p class="hint">
              <strong>Reviews waiting for the security stage.</strong> Today’s policy gives these grants only with a security stage they never had: the sponsor’s keep is
              refused, yours is that stage. You may also narrow (to scopes that still need your stage) or revoke.
            </p>
            {securityReviews.map((item) => (
              <section class="card" aria-labelledby={`review-${item.partner.id}`}>
                <h2 id={`review-${item.partner.id}`}>
                  <a href={`/console/partners/${item.partner.id}`}>{item.partner.name}</a>
                </h2>
                <DriftFindings policyVersion={policy.version} findings={item.drift ?? []} />
                <RequestFacts policy={policy} partner={item.partner} item={item} approvals={approvals.get(item.partner.id) ?? []} />
                <p>
                  <a class="button" href={`/console/recertifications/${item.partner.id}`}>
                    Review {item.partner.name}
                  </a>
                </p>
              </section>
            ))}
          </>
        ) : null}
        {reviews.length > 0 ? (
          <p>
            {reviews.length === 1 ? 'One recertification waits' : `${reviews.length} recertifications wait`} for you:{' '}
            <a href="/console/recertifications">the recertification queue</a>.
          </p>
        ) : null}
      </>,
      { flash: doneFlash(c) },
    );
  });

  const decisionPage = async (c: Context<PageAppEnv>, partner: PartnerRow, values: DecisionValues = {}, errors?: FieldErrors, status?: 200 | 400 | 403 | 409 | 422 | 429 | 503) => {
    const policy = deps.policy();
    const current = scopesOf(partner);
    const approvals = approvalsOf(await auditEventsOf(deps.db, partner.id));
    const extension = pendingExtensionOf(partner);
    const isApproval = partner.state === 'pending_approval';
    const tiers = isApproval ? tierChoices(policy, partner) : [];
    return renderPage(
      c,
      'console',
      `Decide: ${partner.name}`,
      <>
        <RequestFacts policy={policy} partner={partner} approvals={approvals} />
        <h2>Your decision</h2>
        <FormErrors errors={errors} />
        <PostForm action={`/console/decisions/${partner.id}`} csrfToken={c.get('csrfToken')}>
          {/* the stage shown is the one decided: a form left open while another approver closed it is refused */}
          {isApproval ? <input type="hidden" name="stage" value={partner.stage ?? 'sponsor'} /> : null}
          {isApproval ? (
            <CheckboxGroup
              name="scopes"
              label="Scopes to grant"
              hint="Untick a scope to narrow the grant; an approver never widens it."
              errors={errors}
              checked={values.scopes ?? current}
              options={current.map((s) => ({ value: s, label: s, note: `${policy.scopes[s]?.risk ?? 'unknown'} risk` }))}
            />
          ) : null}
          <TextField
            name="accessUntil"
            label={isApproval ? 'Shorten the end date (optional)' : 'Grant the extension until (optional)'}
            type="date"
            hint={isApproval ? `Requested: ${partner.access_until.slice(0, 10)}. Leave empty to keep it.` : extension ? `Asked: ${extension.accessUntil.slice(0, 10)}. Leave empty to grant what was asked.` : undefined}
            errors={errors}
            value={values.accessUntil}
          />
          {tiers.length > 1 ? (
            <SelectField
              name="rateLimitTier"
              label="Rate limit tier"
              hint="The gateway's limit for the partner's keys, if you approve. Security or an admin can change it later."
              errors={errors}
              value={values.rateLimitTier ?? partner.rate_limit_tier}
              options={tiers}
            />
          ) : null}
          <TextField name="reason" label="Reason" multiline required hint="Recorded in the audit trail with your decision." errors={errors} value={values.reason} />
          <div class="actions">
            <button type="submit" name="decision" value="approve">
              Approve
            </button>
            <button type="submit" name="decision" value="reject" class="danger">
              Reject
            </button>
          </div>
        </PostForm>
      </>,
      { status },
    );
  };

  app.get('/decisions/:id', deciders, async (c) => decisionPage(c, await loadVisiblePartner(deps.db, c.get('principal'), c.req.param('id'))));

  app.post('/decisions/:id', deciders, async (c) => {
    const principal = c.get('principal');
    const partner = await loadVisiblePartner(deps.db, principal, c.req.param('id'));
    const form = await formInput(c);
    const body = bodyOf(form, ['decision', 'scopes', 'accessUntil', 'rateLimitTier', 'reason', 'stage'], ['scopes']);
    const values: DecisionValues = {
      scopes: body.scopes as string[],
      accessUntil: body.accessUntil as string | undefined,
      rateLimitTier: body.rateLimitTier as string | undefined,
      reason: body.reason as string | undefined,
    };
    // Scopes are sent only when narrowed: all boxes ticked means the grant as requested (and an
    // extension decision has no scopes at all).
    const current = scopesOf(partner);
    const narrowed = partner.state === 'pending_approval' && !(values.scopes!.length === current.length && current.every((s) => values.scopes!.includes(s)));
    if (!narrowed) delete body.scopes;
    // A tier is sent only when changed, and only with an approval: the tier the partner has stays
    // without one (the default need not be among those an approver grants), a rejection grants none.
    if (body.rateLimitTier === partner.rate_limit_tier || body.decision !== 'approve') delete body.rateLimitTier;
    try {
      const input = parseWithSchema(decisionSchema, body);
      await decide(deps, limiter, principal, partner.id, input);
      return redirectAfterPost(c, `/console?done=${input.decision === 'approve' ? 'approved' : 'rejected'}`);
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal || refusal.status === 404 || refusal.status === 401) throw err;
      return decisionPage(c, partner, values, errorsFor(formErrors(refusal), ['scopes', 'accessUntil', 'rateLimitTier', 'reason']), refusal.status as 400);
    }
  });

  return app;
}
