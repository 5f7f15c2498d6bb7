import type { Hono, MiddlewareHandler } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import { Problem, problemResponse } from './problem.js';

/**
 * 405 with Allow for a method no route of this path serves, answered before authentication: a
 * wrong method is wrong for everyone (hono's methodNotAllowed only looks after the handlers,
 * by which time a missing token has already answered 401).
 */
export function rejectUnsupportedMethods(app: Hono<any, any, any>): MiddlewareHandler {
  let router: TrieRouter<string[]> | undefined;
  return async (c, next) => {
    if (!router) {
      const byPath = new Map<string, Set<string>>();
      for (const route of app.routes) {
        if (route.method === 'ALL') continue;
        const methods = byPath.get(route.path) ?? new Set<string>();
        methods.add(route.method);
        if (route.method === 'GET') methods.add('HEAD');
        byPath.set(route.path, methods);
      }
      router = new TrieRouter<string[]>();
      for (const [path, methods] of byPath) router.add('ALL', path, [...methods]);
    }
    const matches = router.match('ALL', c.req.path)[0];
    const allowed = [...new Set(matches.flatMap(([methods]) => methods))];
    if (c.req.method !== 'OPTIONS' && allowed.length > 0 && !allowed.includes(c.req.method)) {
      return problemResponse(c, new Problem(405, 'Method Not Allowed', `allowed: ${allowed.join(', ')}`, {}, { Allow: allowed.join(', ') }));
    }
    return next();
  };
}
