import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { GatewayRoutes } from '../../config/gateway-routes.js';
import type { AppDeps } from '../deps.js';
import { pagePolicy } from '../headers.js';
import { Problem } from '../problem.js';
import type { RateLimiter } from '../rate-limit.js';
import { isTransientDatabaseError } from '../../schema/db.js';
import { mapTemporalError } from '../temporal-errors.js';
import { consolePages } from './console/index.js';
import type { PageAppEnv } from './env.js';
import { portalPages } from './portal/index.js';
import { renderError } from './render.js';
import { serveAssets } from './static-assets.js';
import { csrfProtection, defaultSessionOptions, pageSession, sessions, type SessionOptions, type Sessions } from './session.js';

/**
 * The pages for people (issue #15), on the same app as the JSON API: the developer portal for
 * partners (/portal) and the console for operators (/console). Server-rendered HTML
 * (hono/jsx), forms that work without JavaScript, one stylesheet and one script from /assets/.
 * Pages call the same services and repositories as the API's handlers and are refused by the same
 * rules (domain/access-rules.ts); what differs is only how the answer is shown.
 */

/** What a page module gets. */
export interface PageDeps {
  deps: AppDeps;
  sessions: Sessions;
  limiter: RateLimiter;
  /** the route map the gateway decides on, as the app loaded it */
  gatewayRoutes: () => GatewayRoutes;
}

/** The pages' one stylesheet and one script, from the repository (no CDN). */
const assets = serveAssets({
  'portal.css': new URL('./assets/portal.css', import.meta.url),
  'portal.js': new URL('./assets/portal.js', import.meta.url),
});

/** Pages load only what we serve: no inline script or style anywhere, forms post to us only. */
const pageSources = () => ({
  'style-src': ["'self'"],
  'script-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'form-action': ["'self'"],
});

export function pageRoutes(deps: AppDeps, limiter: RateLimiter, gatewayRoutes: () => GatewayRoutes, sessionOptions: SessionOptions = defaultSessionOptions) {
  const app = new Hono<PageAppEnv>();
  const pageDeps: PageDeps = { deps, sessions: sessions(deps, limiter, sessionOptions), limiter, gatewayRoutes };

  app.get('/assets/:name', assets);
  app.get('/', (c) => c.redirect('/portal', 303));

  for (const area of ['/portal', '/console']) {
    app.use(`${area}/*`, pagePolicy(pageSources));
    app.use(
      `${area}/*`,
      bodyLimit({
        maxSize: deps.bodyLimitBytes ?? 64 * 1024,
        onError: () => {
          throw new Problem(413, 'Content Too Large', 'the form is too large');
        },
      }),
    );
    app.use(`${area}/*`, pageSession(deps, sessionOptions));
    app.use(`${area}/*`, csrfProtection());
  }
  app.route('/portal', portalPages(pageDeps));
  app.route('/console', consolePages(pageDeps));

  // A refusal is a page in the area's frame, never a JSON problem or a stack trace.
  app.onError((err, c) => {
    if (err instanceof Problem) return renderError(c, err);
    const mapped = mapTemporalError(err);
    if (mapped) return renderError(c, mapped);
    if (err instanceof HTTPException) return renderError(c, new Problem(err.status as Problem['status'], err.message || 'Error', err.message || undefined));
    if (isTransientDatabaseError(err)) return renderError(c, new Problem(503, 'Service Unavailable', 'the database is busy; nothing was changed, try again shortly', {}, { 'Retry-After': '1' }));
    c.get('log')?.error({ err, requestId: c.get('requestId') }, 'unhandled page error');
    return renderError(c, new Problem(500, 'Internal Server Error', 'an internal error occurred; it was logged with this request id'));
  });
  return app;
}
