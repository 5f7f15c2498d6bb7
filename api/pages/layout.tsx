import type { Child, FC, PropsWithChildren } from 'hono/jsx';
import type { Principal } from '../auth.js';
import { consoleAreas, mayOpen } from './console/areas.js';

/**
 * The frame of every page of the portal and the console: one stylesheet and one script, both
 * served by us (/assets/, no CDN), no inline script or style (the pages' Content-Security-Policy
 * allows 'self' only), landmarks and a skip link for keyboard and screen-reader users.
 */

export type Area = 'portal' | 'console';

interface NavItem {
  href: string;
  label: string;
}

const portalNav: NavItem[] = [
  { href: '/portal', label: 'API catalogue' },
  { href: '/portal/request', label: 'Request access' },
  { href: '/portal/access', label: 'My access' },
  { href: '/docs', label: 'API reference' },
];

/** The console's pages this operator may open (console/areas.ts); none before sign-in. */
const consoleNav = (principal: Principal): NavItem[] =>
  principal.kind === 'operator' ? Object.values(consoleAreas).filter((a) => mayOpen(a, principal.roles)) : [];

interface LayoutProps {
  title: string;
  area: Area;
  /** the current path, marked in the navigation */
  path: string;
  principal: Principal;
  csrfToken: string;
  /** a short message shown above the content (after a redirect: "Approved", "Signed out") */
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
}

const whoLabel = (principal: Principal): string | undefined => {
  switch (principal.kind) {
    case 'operator':
      return `${principal.name} (${principal.roles.join(', ')})`;
    case 'request_token':
      return 'partner (request token)';
    case 'partner_key':
      return `partner ${principal.partnerId}`;
    default:
      return undefined;
  }
};

/** A POST form with the CSRF field every state-changing form needs (session.ts checks it); `data-confirm` asks once more (portal.js). */
export const PostForm: FC<PropsWithChildren<{ action: string; csrfToken: string; class?: string; id?: string; 'data-confirm'?: string }>> = ({ action, csrfToken, children, ...rest }) => (
  <form method="post" action={action} {...rest}>
    <input type="hidden" name="_csrf" value={csrfToken} />
    {children}
  </form>
);

export const Layout: FC<PropsWithChildren<LayoutProps>> = ({ title, area, path, principal, csrfToken, flash, children }) => {
  const nav = area === 'portal' ? portalNav : consoleNav(principal);
  const who = whoLabel(principal);
  const signOutAction = area === 'portal' ? '/portal/sign-out' : '/console/sign-out';
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${title} · partner-access ${area === 'portal' ? 'developer portal' : 'console'}`}</title>
        <link rel="stylesheet" href="/assets/portal.css" />
        <script src="/assets/portal.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href={area === 'portal' ? '/portal' : '/console'}>
            partner-access <span>{area === 'portal' ? 'developer portal' : 'console'}</span>
          </a>
          <nav aria-label={area === 'portal' ? 'Portal' : 'Console'}>
            <ul>
              {nav.map((item) => (
                <li>
                  <a href={item.href} aria-current={item.href === path ? 'page' : undefined}>
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <div class="who">
            {who ? (
              <PostForm action={signOutAction} csrfToken={csrfToken} class="inline">
                <span>{who}</span> <button type="submit" class="link">Sign out</button>
              </PostForm>
            ) : (
              <a href={area === 'portal' ? '/portal/sign-in' : '/console/sign-in'}>Sign in</a>
            )}
          </div>
        </header>
        <main id="main" tabindex={-1}>
          {flash ? (
            <p class={`flash ${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>
              {flash.text}
            </p>
          ) : null}
          <h1>{title}</h1>
          {children}
        </main>
        <footer>
          <a href="/docs">API reference</a> · <a href="/openapi.json">OpenAPI document</a> ·{' '}
          {area === 'portal' ? <a href="/console">Operator console</a> : <a href="/portal">Developer portal</a>}
        </footer>
      </body>
    </html>
  );
};

/** Renders a page as a full HTML document. */
export const documentOf = (page: Child): string => `<!doctype html>${String(page)}`;
