import { Hono, type Context } from 'hono';
import { consoleAreas } from './areas.js';
import { environments } from '../../../domain/partner-states.js';
import { bulkRevocationSchema, partnerIdSchema, revocationSchema, suspensionSchema } from '../../../schema/api.js';
import { resumePartner, suspendPartner } from '../../commands.js';
import { bulkRevoke, revoke, type ContainmentTarget } from '../../lifecycle-commands.js';
import { problems } from '../../problem.js';
import type { PageAppEnv } from '../env.js';
import { bodyOf, formInput, parseWithSchema } from '../form-input.js';
import { FormErrors, formErrors, SelectField, TextField, type FieldErrors } from '../forms.js';
import type { PageDeps } from '../index.js';
import { PostForm } from '../layout.js';
import { redirectAfterPost, renderPage, requireOperatorPage } from '../render.js';
import { doneFlash, errorsFor, refusalOf, StateBadge } from './common.js';

/**
 * Security's page: emergency revocation of one partner, and bulk containment by scope or
 * environment. Containment is two posts: the dry run lists who would be cut off (nothing changes),
 * and its confirm form carries exactly that list, so the revocation can only ever be that list or
 * less (a partner that ended meanwhile is skipped; one that started matching after the preview is
 * not swept in). Security only, as POST /v1/partners/{id}/revocation and POST /v1/revocations.
 */

const securityOnly = requireOperatorPage(...consoleAreas.security.roles);

const revocationFormSchema = revocationSchema.extend({ partnerId: partnerIdSchema });
const suspensionFormSchema = suspensionSchema.extend({ partnerId: partnerIdSchema });

/** The confirm carries the preview's ids; it never falls back to the filters alone (that could widen it). */
const MAX_CONFIRM = 1000;

interface SecurityValues {
  partnerId?: string;
  reason?: string;
  scope?: string;
  environment?: string;
  bulkReason?: string;
  suspendId?: string;
  suspendReason?: string;
}

export function securityPages({ deps }: PageDeps) {
  const app = new Hono<PageAppEnv>();

  const securityPage = (c: Context<PageAppEnv>, values: SecurityValues = {}, errors: { revoke?: FieldErrors; bulk?: FieldErrors; suspend?: FieldErrors } = {}, status?: 200 | 400) => {
    const scopes = Object.keys(deps.policy().scopes).sort();
    return renderPage(
      c,
      'console',
      'Security',
      <>
        <section aria-labelledby="revoke-one">
          <h2 id="revoke-one">Emergency revocation</h2>
          <p class="hint">Every key of the partner stops working in this request, in any state; the lifecycle ends as revoked. This cannot be undone.</p>
          <FormErrors errors={errors.revoke} />
          <PostForm action="/console/security/revocation" csrfToken={c.get('csrfToken')} data-confirm="Revoke this partner now? Its keys stop working at once and this cannot be undone.">
            <TextField name="partnerId" label="Partner id" required errors={errors.revoke} value={values.partnerId} />
            <TextField name="reason" label="Reason" multiline required hint="Recorded in the audit trail." errors={errors.revoke} value={values.reason} />
            <button type="submit" class="danger">
              Revoke now
            </button>
          </PostForm>
        </section>
        <section aria-labelledby="suspend">
          <h2 id="suspend">Suspend or resume</h2>
          <p class="hint">A suspension is reversible: the partner’s keys are refused at once, and its sponsor cannot answer a review, until security resumes it.</p>
          <FormErrors errors={errors.suspend} />
          <PostForm action="/console/security/suspension" csrfToken={c.get('csrfToken')}>
            <TextField name="suspendId" label="Partner id" required errors={errors.suspend} value={values.suspendId} />
            <TextField name="suspendReason" label="Reason" multiline required hint="Recorded in the audit trail." errors={errors.suspend} value={values.suspendReason} />
            <div class="actions">
              <button type="submit" name="action" value="suspend" class="danger">
                Suspend
              </button>
              <button type="submit" name="action" value="resume" class="secondary">
                Resume
              </button>
            </div>
          </PostForm>
        </section>
        <section aria-labelledby="contain">
          <h2 id="contain">Bulk containment</h2>
          <p class="hint">Every live partner holding a scope, or in an environment (or both). You see the list first; nothing is revoked until you confirm it.</p>
          <FormErrors errors={errors.bulk} />
          <PostForm action="/console/security/containment" csrfToken={c.get('csrfToken')}>
            <SelectField name="scope" label="Scope" errors={errors.bulk} value={values.scope} options={[{ value: '', label: 'any scope' }, ...scopes.map((s) => ({ value: s, label: s }))]} />
            <SelectField
              name="environment"
              label="Environment"
              errors={errors.bulk}
              value={values.environment}
              options={[{ value: '', label: 'any environment' }, ...environments.map((e) => ({ value: e, label: e }))]}
            />
            <TextField name="bulkReason" label="Reason" multiline required hint="Recorded with every revocation." errors={errors.bulk} value={values.bulkReason} />
            <button type="submit">Show who would be cut off</button>
          </PostForm>
        </section>
      </>,
      { status, flash: doneFlash(c) },
    );
  };

  app.get('/security', securityOnly, (c) => {
    // a partner's page links here with its id filled in (an id, nothing secret)
    const partnerId = c.req.query('partnerId');
    return securityPage(c, { partnerId: partnerId && partnerIdSchema.safeParse(partnerId).success ? partnerId : undefined });
  });

  app.post('/security/revocation', securityOnly, async (c) => {
    const form = await formInput(c);
    const body = bodyOf(form, ['partnerId', 'reason']);
    const values = { partnerId: body.partnerId as string | undefined, reason: body.reason as string | undefined };
    try {
      const { partnerId, ...input } = parseWithSchema(revocationFormSchema, body);
      await revoke(deps, c.get('principal'), partnerId, input, c.get('log'));
      return redirectAfterPost(c, `/console/partners/${partnerId}?done=revoked`);
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal || refusal.status === 401) throw err;
      // an unknown or already ended partner is the id's problem, said next to it
      const errors = refusal.status === 404 || refusal.status === 409 ? { partnerId: [refusal.detail ?? refusal.title] } : formErrors(refusal);
      return securityPage(c, values, { revoke: errorsFor(errors, ['partnerId', 'reason']) }, refusal.status as 400);
    }
  });

  // Suspension and resumption (POST /v1/partners/{id}/suspension, /resumption): the services in api/commands.ts.
  app.post('/security/suspension', securityOnly, async (c) => {
    const form = await formInput(c);
    const fields = bodyOf(form, ['action', 'suspendId', 'suspendReason']);
    const values = { suspendId: fields.suspendId as string | undefined, suspendReason: fields.suspendReason as string | undefined };
    const resume = fields.action === 'resume';
    try {
      const { partnerId, reason } = parseWithSchema(suspensionFormSchema, { partnerId: fields.suspendId, reason: fields.suspendReason });
      await (resume ? resumePartner : suspendPartner)(deps, c.get('principal'), partnerId, { reason });
      return redirectAfterPost(c, `/console/partners/${partnerId}?done=${resume ? 'resumed' : 'suspended'}`);
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal || refusal.status === 401) throw err;
      // the form's names for the body's fields; a refusal about the partner (unknown, ended, not suspended) is said next to its id
      const byBody = formErrors(refusal) ?? {};
      const errors: FieldErrors = {};
      for (const [field, messages] of Object.entries(byBody)) {
        const shown = field === 'partnerId' ? 'suspendId' : field === 'reason' ? 'suspendReason' : field === '' && refusal.status !== 400 ? 'suspendId' : field;
        (errors[shown] ??= []).push(...messages);
      }
      return securityPage(c, values, { suspend: errorsFor(errors, ['suspendId', 'suspendReason']) }, refusal.status as 400);
    }
  });

  app.post('/security/containment', securityOnly, async (c) => {
    const form = await formInput(c);
    const fields = bodyOf(form, ['scope', 'environment', 'bulkReason']);
    const values = { scope: fields.scope as string | undefined, environment: fields.environment as string | undefined, bulkReason: fields.bulkReason as string | undefined };
    let preview: ContainmentTarget[];
    let input;
    try {
      input = parseWithSchema(bulkRevocationSchema, { scope: fields.scope, environment: fields.environment, reason: fields.bulkReason, dryRun: true });
      const result = await bulkRevoke(deps, c.get('principal'), input, c.get('log'));
      preview = result.partners;
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal || refusal.status !== 400) throw err;
      const errors = formErrors(refusal) ?? {};
      if (errors.reason) {
        errors.bulkReason = errors.reason;
        delete errors.reason;
      }
      return securityPage(c, values, { bulk: errorsFor(errors, ['scope', 'environment', 'bulkReason']) }, 400);
    }
    const filter = [input.scope ? `holding ${input.scope}` : '', input.environment ? `in ${input.environment}` : ''].filter(Boolean).join(' and ');
    return renderPage(
      c,
      'console',
      'Bulk containment: dry run',
      <>
        <p>
          Live partners {filter}: <strong>{preview.length}</strong>. Nothing has been revoked yet.
        </p>
        {preview.length > 0 ? (
          <div class="table-wrap">
            <table class="dry-run">
              <thead>
                <tr>
                  <th scope="col">Partner</th>
                  <th scope="col">State</th>
                  <th scope="col">Scopes</th>
                </tr>
              </thead>
              <tbody>
                {preview.map((p) => (
                  <tr>
                    <td>
                      <a href={`/console/partners/${p.partnerId}`}>{p.name}</a> <code class="note">{p.partnerId}</code>
                    </td>
                    <td>
                      <StateBadge state={p.state} />
                    </td>
                    <td>{p.scopes.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {preview.length > MAX_CONFIRM ? (
          <p class="warning">More than {MAX_CONFIRM} partners match: narrow the filter and run the dry run again.</p>
        ) : preview.length > 0 ? (
          <PostForm
            action="/console/security/containment/confirm"
            csrfToken={c.get('csrfToken')}
            data-confirm={`Revoke these ${preview.length} partners now? Their keys stop working at once and this cannot be undone.`}
          >
            {input.scope ? <input type="hidden" name="scope" value={input.scope} /> : null}
            {input.environment ? <input type="hidden" name="environment" value={input.environment} /> : null}
            <input type="hidden" name="reason" value={input.reason} />
            {preview.map((p) => (
              <input type="hidden" name="partnerIds" value={p.partnerId} />
            ))}
            <p>Reason: “{input.reason}”</p>
            <div class="actions">
              <button type="submit" class="danger">
                Revoke these {preview.length} partners
              </button>
              <a class="button secondary" href="/console/security">
                Cancel
              </a>
            </div>
          </PostForm>
        ) : (
          <p>
            <a href="/console/security">Back to security</a>
          </p>
        )}
      </>,
    );
  });

  app.post('/security/containment/confirm', securityOnly, async (c) => {
    const form = await formInput(c);
    const body = bodyOf(form, ['scope', 'environment', 'reason', 'partnerIds'], ['partnerIds']);
    // Only ever the previewed list: without it this would be a revocation by filter alone.
    if (!Array.isArray(body.partnerIds) || body.partnerIds.length === 0) throw problems.badRequest('the confirm names no partner: run the dry run again');
    const input = parseWithSchema(bulkRevocationSchema, { ...body, dryRun: false });
    const result = await bulkRevoke(deps, c.get('principal'), input, c.get('log'));
    return redirectAfterPost(c, `/console/security?done=contained&count=${result.partners.length}`);
  });

  return app;
}
