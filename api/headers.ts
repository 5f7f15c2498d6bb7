import { randomBytes } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

/**
 * Headers every response gets, whatever produced it (a route, a problem, a 404 or 405):
 * - `Cache-Control: no-store`: responses carry request tokens, keys, partner data or live state
 *   (health); none is meant to be kept by a browser, a proxy or a CDN. One rule for every
 *   response, so a new route cannot forget it.
 * - a Content-Security-Policy that lets nothing load, for anything that is not a page: a JSON body
 *   opened as a document runs nothing and cannot be framed. Pages set their own (`pagePolicy`).
 * Registered before any middleware that can answer on its own, so it wraps them all.
 */
export const responseHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  // on the response's own headers: c.header() after the handler rebuilds the whole response
  // around a stream (measured: a third of a bare /healthz's cost)
  // the one exception: our static assets (no secret, no state) say so themselves
  if (c.res.headers.get('Cache-Control') !== staticAssetCaching) c.res.headers.set('Cache-Control', 'no-store');
  if (!c.res.headers.has('Content-Security-Policy')) c.res.headers.set('Content-Security-Policy', noContent);
};

/** Stylesheets and scripts served from the repository: a browser may keep them an hour (Swagger UI's bundle is 1.7 MB). */
export const staticAssetCaching = 'public, max-age=3600';

/** The policy of every response that is not a page: nothing loads, frames, rebases or submits. */
const noContent = contentSecurityPolicy({});

/** Directives beyond `default-src 'none'` a page needs; each a list of sources. */
export interface PageSources {
  'style-src'?: string[];
  'script-src'?: string[];
  'img-src'?: string[];
  'connect-src'?: string[];
  'form-action'?: string[];
}

/** Nothing loads, frames, rebases or submits unless a directive here says so. */
export function contentSecurityPolicy(sources: PageSources): string {
  const directives: Record<string, string[]> = {
    'default-src': ["'none'"],
    'base-uri': ["'none'"],
    'frame-ancestors': ["'none'"],
    'form-action': ["'none'"],
    ...sources,
  };
  return Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ');
}

export type PageEnv = { Variables: { cspNonce: string } };

/**
 * For HTML pages: a fresh nonce per response (`c.get('cspNonce')`, put it on each inline
 * `<style nonce>` / `<script nonce>`), and a strict policy allowing only those inline blocks plus
 * whatever `sources` adds (a form page passes `'form-action': ["'self'"]`).
 */
export function pagePolicy(sources: (nonce: string) => PageSources = (nonce) => ({ 'style-src': [`'nonce-${nonce}'`] })): MiddlewareHandler<PageEnv> {
  return async (c, next) => {
    const nonce = randomBytes(16).toString('base64');
    c.set('cspNonce', nonce);
    await next();
    c.header('Content-Security-Policy', contentSecurityPolicy(sources(nonce)));
  };
}

/**
 * hono's cors for the API's origins, without its cost where it has nothing to do: a request that
 * is neither a preflight nor carries `Origin` gets only `Vary: Origin` from it, and hono adds that
 * with `c.header()` after the handler, which rebuilds the response around a stream (as above).
 */
export function corsHeaders(origins: string[], allowHeaders: string[]): MiddlewareHandler {
  const full = cors({ origin: origins, allowHeaders });
  return async (c, next) => {
    if (c.req.method === 'OPTIONS' || c.req.header('origin') !== undefined) return full(c, next);
    await next();
    c.res.headers.append('Vary', 'Origin');
  };
}

/**
 * What `middlewares` put on an ordinary answer (a POST without `Origin`, answered with JSON), found
 * once by running them around a probe: for a path that answers before them (introspection's lean
 * path), so its headers are theirs by construction, not a copy that could drift.
 */
export function fixedResponseHeaders(middlewares: MiddlewareHandler[]): () => Promise<ReadonlyArray<readonly [string, string]>> {
  let found: Promise<ReadonlyArray<readonly [string, string]>> | undefined;
  return () =>
    (found ??= (async () => {
      const probe = new Hono();
      for (const middleware of middlewares) probe.use('*', middleware);
      probe.post('/', (c) => c.json({}));
      const answer = await probe.request('/', { method: 'POST' });
      return [...answer.headers].filter(([name]) => name !== 'content-type' && name !== 'content-length');
    })());
}
