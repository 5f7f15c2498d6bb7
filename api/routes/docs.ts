import { createRequire } from 'node:module';
import { Hono } from 'hono';
import { pagePolicy, type PageEnv } from '../headers.js';
import { docsPage, type ReferenceDocument } from '../pages/docs-page.js';
import { serveAssets } from '../pages/static-assets.js';

/**
 * /docs: an interactive reference rendered in the browser from /openapi.json by Swagger UI
 * (the `swagger-ui-dist` package). Nothing comes from a CDN (these machines and many deployments
 * have no internet): the bundle and its stylesheet are read from node_modules at start and served
 * under /docs/assets/ with our own init script, under a Content-Security-Policy of 'self' only.
 */
const swaggerUi = (file: string) => createRequire(import.meta.url).resolve(`swagger-ui-dist/${file}`);
const assets = serveAssets({
  'swagger-ui-bundle.js': swaggerUi('swagger-ui-bundle.js'),
  'swagger-ui.css': swaggerUi('swagger-ui.css'),
  'docs-init.js': new URL('../pages/assets/docs-init.js', import.meta.url),
});

/**
 * The reference loads only what we serve; it fetches /openapi.json and, on "Try it out", calls this
 * API (with fetch: the page has no form, so form-action stays 'none').
 */
const referenceSources = () => ({
  'style-src': ["'self'"],
  'script-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
});

export function docsRoutes(document: () => ReferenceDocument) {
  const app = new Hono<PageEnv>();
  app.get('/docs', pagePolicy(referenceSources), (c) => c.html(docsPage(document())));
  app.get('/docs/assets/:name', assets);
  return app;
}
