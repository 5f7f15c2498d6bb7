import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { keyPrefix } from '../../../domain/api-key.js';
import { isTerminal } from '../../../domain/partner-states.js';
import { extensionSchema, offboardingSchema, submissionSchema } from '../../../schema/api.js';
import type { PartnerRow } from '../../../schema/database.js';
import type { Principal } from '../../auth.js';
import { issuedKeyWaiting, pickUpIssuedKey, rotateKey } from '../../credentials-service.js';
import { planOffboarding, requestExtension } from '../../lifecycle-commands.js';
import { loadPartnerTimeline, loadVisiblePartner, partnerOwnView } from '../../partner-view.js';
import { problems } from '../../problem.js';
import { requestClientAddress } from '../../rate-limit.js';
import { admitSubmission, submit, submitterOf } from '../../submissions.js';
import type { PageAppEnv } from '../env.js';
import { all, formInput, one, optional, parseWithSchema } from '../form-input.js';
import { formErrors, SignInForm, type FieldErrors } from '../forms.js';
import type { PageDeps } from '../index.js';
import { redirectAfterPost, renderPage, requirePartnerPage } from '../render.js';
import { AccessPage, KeyShownOnce, type AccessForms } from './access.js';
import { Catalogue } from './catalogue.js';
import { fieldOfDetail, RequestForm, RequestTokenIssued, type RequestValues } from './request.js';

/**
 * The developer portal for partners (issue #15): the API catalogue and the request form (no
 * sign-in), then the partner's own pages behind a session opened with its request token or key
 * (api/pages/session.ts). Every command goes through the service the JSON API's handler calls
 * (submissions.ts, credentials-service.ts, lifecycle-commands.ts), so the pages are refused by the
 * same rules with the same messages. Secrets (request token, key) appear only in the body of the
 * POST answer that hands them out: never in a URL, a redirect, a log line or a cached response
 * (pages are no-store).
 */

type PageContext = Context<PageAppEnv>;

/** The fixed messages a redirect after a form post may ask for (render.ts: never free text in a URL). */
const doneMessages: Record<string, string> = {
  extension: 'Your extension request was sent to your sponsor.',
  offboarding: 'Your offboarding was recorded.',
};

const newIdempotencyKey = () => `portal-${randomBytes(18).toString('base64url')}`;

/** The partner the signed-in browser acts for: its key's partner, or the one its request token opens. */
async function signedInPartner({ deps }: PageDeps, principal: Principal): Promise<PartnerRow> {
  if (principal.kind !== 'partner_key' && principal.kind !== 'request_token') throw problems.unauthorized('sign in with your request token or API key');
  return loadVisiblePartner(deps.db, principal, principal.partnerId);
}

export function portalPages(pageDeps: PageDeps) {
  const { deps, sessions, limiter, gatewayRoutes } = pageDeps;
  const app = new Hono<PageAppEnv>();

  app.get('/', (c) => renderPage(c, 'portal', 'API catalogue', <Catalogue policy={deps.policy()} routes={gatewayRoutes()} />));

  // --- the request form -------------------------------------------------------------------
  const requestPage = (c: PageContext, values: RequestValues, errors?: FieldErrors, status: 200 | 400 | 413 | 422 | 429 | 503 = 200) =>
    renderPage(c, 'portal', 'Request access', <RequestForm policy={deps.policy()} values={values} errors={errors} csrfToken={c.get('csrfToken')} />, { status });

  app.get('/request', (c) =>
    requestPage(c, { name: '', contactEmail: '', sponsor: '', environment: 'sandbox', scopes: [], justification: '', accessUntil: '', idempotencyKey: newIdempotencyKey() }),
  );

  app.post('/request', async (c) => {
    const input = await formInput(c);
    const values: RequestValues = {
      name: one(input, 'name'),
      contactEmail: one(input, 'contactEmail'),
      sponsor: one(input, 'sponsor'),
      environment: one(input, 'environment'),
      scopes: all(input, 'scopes'),
      justification: one(input, 'justification'),
      accessUntil: one(input, 'accessUntil'),
      idempotencyKey: one(input, '_idempotency') || newIdempotencyKey(),
    };
    // An operator signed in to the console files on the partner's behalf, as through the API; anyone
    // else files as the public (a partner's own session cannot file for others, but may request anew).
    const principal = c.get('principal');
    const onBehalf = principal.kind === 'operator';
    try {
      const submitter = submitterOf(onBehalf ? principal : { kind: 'anonymous' }, requestClientAddress(c));
      // the JSON API validates the body before it spends the budget: so does the form
      const body = parseWithSchema(
        submissionSchema,
        {
          name: values.name,
          contactEmail: values.contactEmail,
          sponsor: values.sponsor,
          environment: values.environment,
          scopes: values.scopes,
          justification: values.justification,
          accessUntil: optional(values.accessUntil),
        },
        c,
      );
      await admitSubmission(deps, limiter, submitter, values.idempotencyKey);
      const accepted = await submit(deps, c.get('log'), submitter, body, values.idempotencyKey);
      // the browser now holds a session of the request token: the partner reaches its status without pasting it
      const signedIn = !onBehalf && (await sessions.adopt(c, accepted.requestToken));
      return renderPage(c, 'portal', 'Request received', <RequestTokenIssued partnerId={accepted.partnerId} requestToken={accepted.requestToken} signedIn={signedIn} />);
    } catch (err) {
      const errors = formErrors(err);
      if (!errors) throw err;
      const problem = err as { status: 400 | 413 | 422 | 429 | 503; headers: Record<string, string> };
      for (const [name, value] of Object.entries(problem.headers)) c.header(name, value);
      return requestPage(c, values, fieldOfDetail(errors), problem.status);
    }
  });

  // --- signing in with a partner credential ----------------------------------------------------
  const signInPage = (c: PageContext, error?: string) =>
    renderPage(
      c,
      'portal',
      'Sign in',
      <>
        <p>Sign in with the request token you got when you submitted your request, or with your API key.</p>
        <SignInForm
          action="/portal/sign-in"
          csrfToken={c.get('csrfToken')}
          field="credential"
          label="Request token or API key"
          hint="prt_… or pak_…. It is checked once; the browser then holds only a session cookie."
          error={error}
        />
        <p>
          No request yet? <a href="/portal/request">Request access</a>.
        </p>
      </>,
      { status: error ? 401 : 200 },
    );

  app.get('/sign-in', (c) => signInPage(c));
  app.post('/sign-in', async (c) => {
    // partner credentials only: an operator signs in to the console
    const principal = await sessions.signIn(c, one(await formInput(c), 'credential'), ['request_token', 'partner_key']);
    if (!principal) return signInPage(c, 'This is not a valid request token or API key.');
    return redirectAfterPost(c, '/portal/access');
  });
  app.post('/sign-out', async (c) => {
    await sessions.signOut(c);
    return redirectAfterPost(c, '/portal');
  });

  // --- the partner's own pages ------------------------------------------------------------------
  app.use('/access', requirePartnerPage());
  app.use('/access/*', requirePartnerPage());

  const accessPage = async (c: PageContext, options: { forms?: AccessForms; status?: 200 | 400 | 403 | 409 | 422 | 503; flash?: { kind: 'ok' | 'error'; text: string } } = {}) => {
    const principal = c.get('principal');
    const partner = await signedInPartner(pageDeps, principal);
    const [view, timeline, keyWaiting] = await Promise.all([partnerOwnView(deps.db, partner), loadPartnerTimeline(deps.db, partner), issuedKeyWaiting(deps.db, partner.id)]);
    return renderPage(
      c,
      'portal',
      'My access',
      <AccessPage
        view={view}
        timeline={timeline}
        credential={principal.kind === 'partner_key' ? 'partner_key' : 'request_token'}
        keyWaiting={keyWaiting && !isTerminal(view.state)}
        csrfToken={c.get('csrfToken')}
        forms={options.forms}
      />,
      { status: options.status, flash: options.flash },
    );
  };

  app.get('/access', (c) => {
    const code = c.req.query('done') ?? '';
    const done = Object.hasOwn(doneMessages, code) ? doneMessages[code as keyof typeof doneMessages] : undefined;
    return accessPage(c, { flash: done ? { kind: 'ok', text: done } : undefined });
  });

  app.post('/access/pickup', async (c) => {
    const partner = await signedInPartner(pageDeps, c.get('principal'));
    const issued = await pickUpIssuedKey(deps, c.get('principal'), partner.id, c.get('log'));
    // from now on the browser holds a session of the key: rotation needs the key, and the request token's work is done
    const signedIn = await sessions.adopt(c, issued.apiKey);
    return renderPage(c, 'portal', 'Your API key', <KeyShownOnce issued={issued} rotated={false} signedIn={signedIn} />);
  });

  app.post('/access/rotate', async (c) => {
    const principal = c.get('principal');
    const partner = await signedInPartner(pageDeps, principal);
    const { issued, retiring } = await rotateKey(deps, principal, partner.id, c.get('log'));
    // the key this session was opened with retires after the overlap: the session follows the new key
    const signedIn = await sessions.adopt(c, issued.apiKey);
    return renderPage(
      c,
      'portal',
      'Your new API key',
      <KeyShownOnce issued={issued} rotated signedIn={signedIn} retiring={retiring && { prefix: keyPrefix(partner.environment, retiring.keyId), retireAt: retiring.retireAt }} />,
    );
  });

  /** A command form's refusal: the status page again, the typed values kept, the messages next to the fields. */
  const refused = (c: PageContext, err: unknown, forms: (errors: FieldErrors) => AccessForms) => {
    const errors = formErrors(err);
    if (!errors) throw err;
    return accessPage(c, { forms: forms(errors), status: (err as { status: 400 | 403 | 409 | 422 | 503 }).status });
  };

  app.post('/access/extension', async (c) => {
    const input = await formInput(c);
    const values = { accessUntil: one(input, 'accessUntil'), reason: one(input, 'reason') };
    try {
      const partner = await signedInPartner(pageDeps, c.get('principal'));
      const body = parseWithSchema(extensionSchema, values, c);
      await requestExtension(deps, c.get('principal'), partner.id, body);
      return redirectAfterPost(c, '/portal/access?done=extension');
    } catch (err) {
      return refused(c, err, (errors) => ({ extension: { values, errors } }));
    }
  });

  app.post('/access/offboarding', async (c) => {
    const input = await formInput(c);
    const values = { at: one(input, 'at'), reason: one(input, 'offboardingReason') };
    try {
      const partner = await signedInPartner(pageDeps, c.get('principal'));
      const body = parseWithSchema(offboardingSchema, { at: optional(values.at), reason: values.reason }, c);
      const result = await planOffboarding(deps, c.get('principal'), partner.id, body);
      // Offboarded now, a key's session ends with the key: the outcome is shown in this answer,
      // since the redirect's page would already ask for a sign-in.
      if (isTerminal(result.state)) return accessPage(c, { flash: { kind: 'ok', text: 'Your access has ended: every key of it stopped working.' } });
      return redirectAfterPost(c, '/portal/access?done=offboarding');
    } catch (err) {
      // the body's `reason` is the form's `offboardingReason`: its messages go there
      return refused(c, err, ({ reason, ...errors }) => ({ offboarding: { values, errors: reason ? { ...errors, offboardingReason: reason } : errors } }));
    }
  });

  return app;
}
