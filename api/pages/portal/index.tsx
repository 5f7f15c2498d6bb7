import { Hono } from 'hono';
import type { PageDeps } from '../index.js';
import type { PageAppEnv } from '../env.js';
import { renderPage } from '../render.js';

/** The developer portal for partners (issue #15): catalogue, request form, status, key pickup. */
export function portalPages(_: PageDeps) {
  const app = new Hono<PageAppEnv>();
  app.get('/', (c) => renderPage(c, 'portal', 'API catalogue', <p>The scopes partners may request.</p>));
  return app;
}
