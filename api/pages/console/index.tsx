import { Hono } from 'hono';
import type { PageDeps } from '../index.js';
import { consoleAreas, homeOf } from './areas.js';
import type { PageAppEnv } from '../env.js';
import { redirectAfterPost, renderPage, requireOperatorPage } from '../render.js';
import { SignInForm } from '../forms.js';
import { auditPages } from './audit.js';
import { inboxPages } from './inbox.js';
import { partnerPages } from './partners.js';
import { recertificationPages } from './recertifications.js';
import { securityPages } from './security.js';

/** Where sign-in may send the operator back to: a console path of ours, never another site. */
const safeNext = (next: string | undefined) => (next && /^\/console(\/[A-Za-z0-9/_-]*)?$/.test(next) ? next : '/console');

/** The operator console (issue #15): sign-in with an operator token, then a session. */
export function consolePages(pageDeps: PageDeps) {
  const { sessions } = pageDeps;
  const app = new Hono<PageAppEnv>();

  const signInForm = (c: Parameters<typeof renderPage>[0], next: string, error?: string) =>
    renderPage(
      c,
      'console',
      'Sign in',
      <SignInForm
        action="/console/sign-in"
        csrfToken={c.get('csrfToken')}
        field="token"
        label="Operator token"
        hint="Your pat_… token. It is checked once; the browser then holds only a session cookie."
        error={error}
      >
        <input type="hidden" name="next" value={next} />
      </SignInForm>,
      { status: error ? 401 : 200 },
    );

  app.get('/sign-in', (c) => signInForm(c, safeNext(c.req.query('next'))));
  app.post('/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const next = safeNext(typeof form.next === 'string' ? form.next : undefined);
    const principal = await sessions.signIn(c, typeof form.token === 'string' ? form.token : '', ['operator']);
    if (principal?.kind !== 'operator') return signInForm(c, next, 'This token is not a valid operator token.');
    // no page asked for: the first page this operator may open
    return redirectAfterPost(c, next === consoleAreas.inbox.href ? homeOf(principal.roles) : next);
  });
  app.post('/sign-out', async (c) => {
    await sessions.signOut(c);
    return redirectAfterPost(c, '/console/sign-in');
  });

  // every other console page needs a signed-in operator; each page adds the roles its JSON route requires
  app.use('*', requireOperatorPage());
  for (const pages of [inboxPages, recertificationPages, partnerPages, securityPages, auditPages]) app.route('/', pages(pageDeps));
  return app;
}
