import { Hono, type Context } from 'hono';
import { consoleAreas } from './areas.js';
import type { FC } from 'hono/jsx';
import type { Policy } from '../../../config/policy.js';
import type { UsageEvidence } from '../../../domain/lifecycle-records.js';
import { recertificationSchema } from '../../../schema/api.js';
import type { PartnerRow } from '../../../schema/database.js';
import { usageEvidenceOf } from '../../../schema/repositories/usage.js';
import { inboxOf, isSponsorsReview } from '../../inbox.js';
import { recertify } from '../../lifecycle-commands.js';
import { grantDriftToday, loadVisiblePartner } from '../../partner-view.js';
import type { PageAppEnv } from '../env.js';
import { bodyOf, formInput, parseWithSchema } from '../form-input.js';
import { CheckboxGroup, FormErrors, formErrors, TextField, type FieldErrors } from '../forms.js';
import type { PageDeps } from '../index.js';
import { PostForm } from '../layout.js';
import { redirectAfterPost, renderPage, requireOperatorPage } from '../render.js';
import { doneFlash, DriftFindings, errorsFor, refusalOf, Scope, scopesOf, StateBadge, When } from './common.js';

/**
 * The recertification queue: the reviews a sponsor owes (due, or overdue and suspended), each with
 * its usage evidence (last use per key, the scopes never used this cycle: usageEvidenceOf, what the
 * workflow's notice carries), and a review page: keep, narrow or revoke, with a reason, under the
 * grant's drift against today's policy when it has any. The queue is for approvers; the review page
 * also for security, whose inbox lists the reviews only it can keep.
 */

const reviewers = requireOperatorPage(...consoleAreas.recertifications.roles);
/**
 * One review is answered by whoever an inbox lists it for: the sponsor, or security for a review only
 * it can keep (api/inbox.ts). The roles of POST /v1/partners/{id}/recertifications; the workflow
 * decides who answers which review.
 */
const answerers = requireOperatorPage(...consoleAreas.inbox.roles);

const Evidence: FC<{ policy: Policy; partner: PartnerRow; evidence: UsageEvidence }> = ({ policy, partner, evidence }) => (
  <>
    <dl class="facts">
      <dt>State</dt>
      <dd>
        <StateBadge state={partner.state} />
      </dd>
      <dt>Due</dt>
      <dd>
        <When at={partner.next_deadline_at} /> {partner.state === 'suspended' ? <strong>(overdue: keys disabled until answered)</strong> : null}
      </dd>
      <dt>Cycle</dt>
      <dd>
        {partner.recert_cycle}, last certified <When at={partner.last_certified_at} />
      </dd>
      <dt>Environment</dt>
      <dd>{partner.environment}</dd>
      <dt>Access until</dt>
      <dd>
        <When at={partner.access_until} />
      </dd>
    </dl>
    <h3>Usage evidence</h3>
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">Last use per key</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Last used</th>
          </tr>
        </thead>
        <tbody>
          {evidence.keys.length === 0 ? (
            <tr>
              <td colspan={2}>No key issued.</td>
            </tr>
          ) : (
            evidence.keys.map((k) => (
              <tr>
                <td>
                  <code>{k.prefix}</code>
                </td>
                <td>{k.lastUsedAt ? <When at={k.lastUsedAt} /> : <strong>never</strong>}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
    <p>Scopes used this cycle:</p>
    {evidence.scopesUsed.length ? (
      <ul class="scopes">
        {evidence.scopesUsed.map((s) => (
          <li>
            <Scope policy={policy} scope={s} />
          </li>
        ))}
      </ul>
    ) : (
      <p class="note">none</p>
    )}
    <p>
      <strong>Scopes never used this cycle</strong> (candidates for narrowing):
    </p>
    {evidence.scopesNeverUsed.length ? (
      <ul class="scopes never-used">
        {evidence.scopesNeverUsed.map((s) => (
          <li>
            <Scope policy={policy} scope={s} />
          </li>
        ))}
      </ul>
    ) : (
      <p class="note">none: every scope was used</p>
    )}
  </>
);

interface ReviewValues {
  scopes?: string[];
  reason?: string;
}

const doneOf = { keep: 'kept', narrow: 'narrowed', revoke: 'recert-revoked' } as const;

export function recertificationPages({ deps, limiter }: PageDeps) {
  const app = new Hono<PageAppEnv>();

  app.get('/recertifications', reviewers, async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw new Error('unreachable: the guard admits operators only');
    const due = (await inboxOf(deps, principal))
      .filter(isSponsorsReview) // security's stage of a drifted grant is answered from its inbox
      .sort((a, b) => ((a.partner.next_deadline_at ?? '') < (b.partner.next_deadline_at ?? '') ? -1 : 1));
    const policy = deps.policy();
    const evidence = new Map(await Promise.all(due.map(async (i) => [i.partner.id, await usageEvidenceOf(deps.db, i.partner)] as const)));
    return renderPage(
      c,
      'console',
      'Recertifications',
      <>
        <p class="hint">Reviews you owe as sponsor, the earliest due first. Unanswered by the due date, a partner is suspended.</p>
        {due.length === 0 ? <p>No recertification is due.</p> : null}
        {due.map(({ partner }) => (
          <section class="card" aria-labelledby={`recert-${partner.id}`}>
            <h2 id={`recert-${partner.id}`}>
              <a href={`/console/partners/${partner.id}`}>{partner.name}</a>
            </h2>
            <Evidence policy={policy} partner={partner} evidence={evidence.get(partner.id)!} />
            <p>
              <a class="button" href={`/console/recertifications/${partner.id}`}>
                Review {partner.name}
              </a>
            </p>
          </section>
        ))}
      </>,
      { flash: doneFlash(c) },
    );
  });

  const reviewPage = async (c: Context<PageAppEnv>, partner: PartnerRow, values: ReviewValues = {}, errors?: FieldErrors, status?: 200 | 400) => {
    const policy = deps.policy();
    const current = scopesOf(partner);
    const [evidence, drift] = await Promise.all([usageEvidenceOf(deps.db, partner), grantDriftToday(deps.db, partner.id, policy)]);
    return renderPage(
      c,
      'console',
      `Review: ${partner.name}`,
      <>
        {drift ? <DriftFindings policyVersion={drift.policyVersion} findings={drift.findings} /> : null}
        <Evidence policy={policy} partner={partner} evidence={evidence} />
        <h2>Your answer</h2>
        <FormErrors errors={errors} />
        <PostForm action={`/console/recertifications/${partner.id}`} csrfToken={c.get('csrfToken')}>
          {/* the review shown is the one answered: a form left open across a cycle is refused, not spent on the next review */}
          <input type="hidden" name="cycle" value={String(partner.recert_cycle)} />
          <CheckboxGroup
            name="scopes"
            label="Scopes to keep (for “Narrow”)"
            hint="Narrow keeps only the ticked scopes; the others stop working at once."
            errors={errors}
            checked={values.scopes ?? evidence.scopesUsed}
            options={current.map((s) => ({ value: s, label: s, note: evidence.scopesNeverUsed.includes(s) ? 'never used this cycle' : 'used' }))}
          />
          <TextField name="reason" label="Reason" multiline required hint="Recorded in the audit trail with your answer." errors={errors} value={values.reason} />
          <div class="actions">
            <button type="submit" name="decision" value="keep">
              Keep
            </button>
            <button type="submit" name="decision" value="narrow" class="secondary">
              Narrow
            </button>
            <button type="submit" name="decision" value="revoke" class="danger">
              Revoke (offboard)
            </button>
          </div>
        </PostForm>
      </>,
      { status },
    );
  };

  app.get('/recertifications/:id', answerers, async (c) => reviewPage(c, await loadVisiblePartner(deps.db, c.get('principal'), c.req.param('id'))));

  app.post('/recertifications/:id', answerers, async (c) => {
    const principal = c.get('principal');
    const partner = await loadVisiblePartner(deps.db, principal, c.req.param('id'));
    const form = await formInput(c);
    const body = bodyOf(form, ['decision', 'scopes', 'reason', 'cycle'], ['scopes']);
    if (typeof body.cycle === 'string') body.cycle = /^\d{1,7}$/.test(body.cycle) ? Number(body.cycle) : body.cycle; // else the schema refuses it
    const values: ReviewValues = { scopes: body.scopes as string[], reason: body.reason as string | undefined };
    // the ticked scopes mean something only for "narrow"
    if (body.decision !== 'narrow') delete body.scopes;
    try {
      const input = parseWithSchema(recertificationSchema, body);
      await recertify(deps, limiter, principal, partner.id, input);
      // back where the review was listed: the sponsor's queue, or the inbox of security answering in its place
      const listedIn = principal.kind === 'operator' && principal.name === partner.sponsor ? '/console/recertifications' : '/console';
      return redirectAfterPost(c, `${listedIn}?done=${doneOf[input.decision]}`);
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal || refusal.status === 404 || refusal.status === 401) throw err;
      return reviewPage(c, partner, values, errorsFor(formErrors(refusal), ['scopes', 'reason']), refusal.status as 400);
    }
  });

  return app;
}
