import type { FC } from 'hono/jsx';
import type { Policy } from '../../../config/policy.js';
import { CheckboxGroup, FormErrors, SelectField, TextField, type FieldErrors } from '../forms.js';
import { formatDuration } from '../format.js';
import { PostForm } from '../layout.js';

/**
 * The request form and the one-time request-token page. The form's field names are the
 * submission body's (schema/api.ts `submissionSchema`), so the API's validation messages land
 * next to the field they are about.
 */

export interface RequestValues {
  name: string;
  contactEmail: string;
  sponsor: string;
  environment: string;
  scopes: string[];
  justification: string;
  accessUntil: string;
  /** the form's Idempotency-Key: a double submit answers the first partner, not a second one */
  idempotencyKey: string;
}

/**
 * `submit()` refuses some fields with a 422 detail rather than a 400 issue (an unknown sponsor, a
 * date beyond the policy); the detail names the field it is about, so it is shown there too.
 */
export function fieldOfDetail(errors: FieldErrors): FieldErrors {
  const general = errors[''];
  if (!general) return errors;
  const out: FieldErrors = { ...errors, '': [] };
  for (const message of general) {
    const field = /^accessUntil\b/.test(message) ? 'accessUntil' : /^sponsor\b|the requester cannot be the sponsor/.test(message) ? 'sponsor' : /^unknown scopes/.test(message) ? 'scopes' : '';
    (out[field] ??= []).push(message);
  }
  if (out['']!.length === 0) delete out[''];
  return out;
}

export const RequestForm: FC<{ policy: Policy; values: RequestValues; errors?: FieldErrors | undefined; csrfToken: string }> = ({ policy, values, errors, csrfToken }) => {
  const scopeOptions = Object.entries(policy.scopes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, s]) => ({ value: name, label: name, note: `(${s.risk} risk) ${s.description}` }));
  const environments = Object.entries(policy.environments).map(([name, env]) => ({
    value: name,
    label: `${name} (up to ${formatDuration(env.maxAccess)}; security approval ${env.securityApproval === 'always' ? 'always' : 'for high-risk scopes'})`,
  }));
  return (
    <>
      <p>
        Tell us who you are and what your application needs. Your sponsor (the person at our company who owns the relationship) decides
        first; security decides too for high-risk scopes or production. You get a <strong>request token</strong> at once: it shows the
        request's progress and picks up your API key once it is approved.
      </p>
      <FormErrors errors={errors} />
      <PostForm action="/portal/request" csrfToken={csrfToken} id="request-form">
        <input type="hidden" name="_idempotency" value={values.idempotencyKey} />
        <TextField name="name" label="Application name" value={values.name} required errors={errors} autocomplete="organization" />
        <TextField name="contactEmail" label="Contact e-mail" type="email" value={values.contactEmail} required errors={errors} autocomplete="email" hint="Where we send notices about this access." />
        <TextField name="sponsor" label="Sponsor" value={values.sponsor} required errors={errors} hint="The operator name of your sponsor at our company (ask them)." />
        <SelectField name="environment" label="Environment" value={values.environment} options={environments} errors={errors} />
        <CheckboxGroup name="scopes" label="Scopes" checked={values.scopes} options={scopeOptions} errors={errors} hint="Only what your application calls: every scope widens what a leaked key can do." />
        <TextField name="justification" label="Justification" multiline value={values.justification} required errors={errors} hint="What the application does with each scope. Your approvers read this." />
        <TextField name="accessUntil" label="Access until (optional)" type="date" value={values.accessUntil} errors={errors} hint="Leave empty for the environment's longest access (see the catalogue)." />
        <button type="submit">Request access</button>
      </PostForm>
    </>
  );
};

/** The request token, shown this once, with what it is for. */
export const RequestTokenIssued: FC<{ partnerId: string; requestToken: string; signedIn: boolean }> = ({ partnerId, requestToken, signedIn }) => (
  <>
    <p class="flash ok" role="status">
      Your request was received (partner id <code>{partnerId}</code>). It now waits for your sponsor.
    </p>
    <section class="card" aria-labelledby="token-heading">
      <h2 id="token-heading">Your request token</h2>
      <p class="warning">
        <strong>Copy it now: it is shown only this once.</strong> We keep only a hash of it and cannot show it again.
      </p>
      <div class="secret">
        <code id="request-token">{requestToken}</code>
        <button type="button" class="secondary" data-copy="request-token">
          Copy
        </button>
      </div>
      <p>With this token you (or your software) can:</p>
      <ul>
        <li>follow the request's status and timeline here, under <a href="/portal/access">My access</a>, or <code>GET /v1/partners/{partnerId}</code>;</li>
        <li>pick up your API key once the request is approved (once only), here or with <code>POST /v1/partners/{partnerId}/credentials/pickup</code>.</li>
      </ul>
      <p class="hint">Send it as <code>Authorization: Bearer …</code>, never in a URL.</p>
    </section>
    <p>
      {signedIn ? (
        <>
          This browser is signed in with the token: <a href="/portal/access">see the status of your request</a>.
        </>
      ) : (
        <>
          You are signed in as an operator, so this browser was not switched to the partner's token. <a href="/portal/sign-in">Sign in with the token</a> to see the partner's view.
        </>
      )}
    </p>
  </>
);
