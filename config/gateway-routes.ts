import fs from 'node:fs';
import { z } from 'zod';
import { canonicalRoutePath, type CanonicalPath } from '../domain/request-path.js';

/**
 * Which scope each upstream route needs: one file (gateway/routes.json) read by the gateway auth
 * endpoint. `path` is a prefix ending in "/" or an exact path, written in the gateway's canonical
 * form (domain/request-path.ts) so it compares with normalised requests; the longest match wins; a
 * request matching no route is denied.
 */
const routeSchema = z.strictObject({
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
  path: z.string().refine((p) => canonicalRoutePath(p) !== undefined, {
    message: 'must be a canonical path: starts with /, no dot segments, //, ;, query or needless escapes',
  }),
  scope: z.string().regex(/^[a-z][a-z0-9_.:-]{1,63}$/),
});
export const gatewayRoutesSchema = z.strictObject({
  environment: z.enum(['sandbox', 'production']),
  routes: z.array(routeSchema).min(1),
});
export type GatewayRoutes = z.infer<typeof gatewayRoutesSchema>;

export function loadGatewayRoutes(file: string): GatewayRoutes {
  return gatewayRoutesSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
}

/**
 * The scope a request needs, decided on the normalised path only (the one nginx forwards). Routes
 * match whole segments: "/orders/" covers "/orders" and "/orders/…", never "/ordersX".
 */
export function requiredScope(config: GatewayRoutes, method: string, path: CanonicalPath): string | undefined {
  const effective = method === 'HEAD' ? 'GET' : method;
  let best: { scope: string; length: number } | undefined;
  for (const route of config.routes) {
    if (route.method !== effective) continue;
    const prefix = route.path.endsWith('/') ? route.path : undefined;
    const matches = prefix ? path.startsWith(prefix) || path === prefix.slice(0, -1) : path === route.path;
    if (matches && (!best || route.path.length > best.length)) best = { scope: route.scope, length: route.path.length };
  }
  return best?.scope;
}
