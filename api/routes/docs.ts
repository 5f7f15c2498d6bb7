import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Hono } from 'hono';
import { pagePolicy, staticAssetCaching, type PageEnv } from '../headers.js';
import { docsPage, type ReferenceDocument } from '../pages/docs-page.js';
import { Problem } from '../problem.js';

/**
 * /docs: an interactive reference rendered in the browser from /openapi.json by Swagger UI
 * (the `swagger-ui-dist` package). Nothing comes from a CDN (these machines and many deployments
 * have no internet): the bundle and its stylesheet are read from node_modules at start and served
 * under /docs/assets/ with our own init script, under a Content-Security-Policy of 'self' only.
 */
const swaggerUi = (file: string) => createRequire(import.meta.url).resolve(`swagger-ui-dist/${file}`);
const assets: Record<string, { body: string; type: string }> = {
  'swagger-ui-bundle.js': { body: readFileSync(swaggerUi('swagger-ui-bundle.js'), 'utf8'), type: 'text/javascript; charset=utf-8' },
  'swagger-ui.css': { body: readFileSync(swaggerUi('swagger-ui.css'), 'utf8'), type: 'text/css; charset=utf-8' },
  'docs-init.js': { body: readFileSync(new URL('../pages/assets/docs-init.js', import.meta.url), 'utf8'), type: 'text/javascript; charset=utf-8' },
};

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
  app.get('/docs/assets/:name', (c) => {
    const asset = Object.hasOwn(assets, c.req.param('name')) ? assets[c.req.param('name')] : undefined;
    if (!asset) throw new Problem(404, 'Not Found', 'no such asset');
    return c.body(asset.body, 200, { 'Content-Type': asset.type, 'Cache-Control': staticAssetCaching });
  });
  return app;
}
