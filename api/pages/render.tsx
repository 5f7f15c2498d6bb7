import type { Context, MiddlewareHandler } from 'hono';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Role } from '../../domain/partner-states.js';
import { Problem } from '../problem.js';
import type { PageAppEnv } from './env.js';
import { documentOf, Layout, type Area } from './layout.js';

/** Shared by every page handler: one way to render a page, one way to guard one. */

export interface PageOptions {
  status?: ContentfulStatusCode;
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
}

/** Answers with a full page in the area's frame (navigation, who is signed in, the CSRF token for the sign-out form). */
export function renderPage(c: Context<PageAppEnv>, area: Area, title: string, body: Child, options: PageOptions = {}): Response {
  const page = (
    <Layout title={title} area={area} path={c.req.path} principal={c.get('principal') ?? { kind: 'anonymous' }} csrfToken={c.get('csrfToken') ?? ''} flash={options.flash}>
      {body}
    </Layout>
  );
  return c.html(documentOf(page), options.status ?? 200);
}

/**
 * After a successful form post: 303 to the page that shows the result (a reload re-posts nothing).
 * The message travels as a fixed code in the query (`?done=approved`), never as free text and never
 * with a secret, so a URL can only ever show one of the page's own messages.
 */
export const redirectAfterPost = (c: Context, location: string) => c.redirect(location, 303);

/** A page's guard: an operator with one of `roles`; anyone else is sent to sign in (then back here). */
export function requireOperatorPage(...roles: Role[]): MiddlewareHandler<PageAppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') {
      if (c.req.method !== 'GET') throw new Problem(401, 'Unauthorized', 'your session has ended; sign in again');
      return c.redirect(`/console/sign-in?next=${encodeURIComponent(c.req.path)}`, 303);
    }
    if (roles.length > 0 && !principal.roles.some((r) => roles.includes(r))) throw new Problem(403, 'Forbidden', `this page needs one of the roles: ${roles.join(', ')}`);
    return next();
  };
}

/** A page's guard: a partner signed in with its request token or key; anyone else is sent to sign in. */
export function requirePartnerPage(): MiddlewareHandler<PageAppEnv> {
  return async (c, next) => {
    const kind = c.get('principal').kind;
    if (kind === 'request_token' || kind === 'partner_key') return next();
    if (c.req.method !== 'GET') throw new Problem(401, 'Unauthorized', 'your session has ended; sign in again');
    return c.redirect('/portal/sign-in', 303);
  };
}

/** The page shown for a refusal (a Problem) or an unexpected error, in the area it happened in. */
export function renderError(c: Context<PageAppEnv>, err: Problem): Response {
  const area: Area = c.req.path.startsWith('/console') ? 'console' : 'portal';
  for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
  return renderPage(
    c,
    area,
    err.title,
    <>
      <p>{err.detail ?? err.title}</p>
      <p class="hint">Request id: <code>{c.get('requestId')}</code></p>
      <p>
        <a href={area === 'console' ? '/console' : '/portal'}>Back to the {area === 'console' ? 'console' : 'portal'}</a>
      </p>
    </>,
    { status: err.status },
  );
}
