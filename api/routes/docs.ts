import { Hono } from 'hono';
import { html, raw } from 'hono/html';
import { pagePolicy, type PageEnv } from '../headers.js';

interface OpenApiDoc {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, { summary?: string; security?: unknown[] }>>;
}

/**
 * A self-contained reference page rendered from the OpenAPI document (no CDN: these machines and
 * many deployments have no internet). The machine-readable document is at /openapi.json.
 */
export function docsRoutes(document: () => OpenApiDoc) {
  const app = new Hono<PageEnv>();
  // the only inline block is the style, carrying this response's nonce
  app.get('/docs', pagePolicy(), (c) => {
    const doc = document();
    const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => html`<tr><td><code>${method.toUpperCase()}</code></td><td><code>${path}</code></td><td>${op.summary ?? ''}</td></tr>`),
    );
    return c.html(html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <title>${doc.info.title} API</title>
          <style nonce="${c.get('cspNonce')}">
            body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
            table { border-collapse: collapse; width: 100%; } td { border-top: 1px solid #ddd; padding: .4rem .6rem; vertical-align: top; }
            code { font-size: 13px; }
          </style>
        </head>
        <body>
          <h1>${doc.info.title} <small>${doc.info.version}</small></h1>
          <p>${doc.info.description ?? ''}</p>
          <p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are <code>application/problem+json</code> (RFC 9457).</p>
          <table>${raw(rows.join(''))}</table>
        </body>
      </html>`);
  });
  return app;
}
