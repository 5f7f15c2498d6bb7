import fs from 'node:fs';
import { z } from 'zod';

/**
 * Which scope each upstream route needs: one file (gateway/routes.json) read by the gateway auth
 * endpoint. `path` is a prefix ending in "/" or an exact path; the longest match wins; a request
 * matching no route is denied.
 */
const routeSchema = z.strictObject({
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
  path: z.string().startsWith('/'),
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

export function requiredScope(config: GatewayRoutes, method: string, uri: string): string | undefined {
  const path = uri.split('?')[0]!;
  const effective = method === 'HEAD' ? 'GET' : method;
  let best: { scope: string; length: number } | undefined;
  for (const route of config.routes) {
    if (route.method !== effective) continue;
    const matches = route.path.endsWith('/') ? path.startsWith(route.path) || path === route.path.slice(0, -1) : path === route.path;
    if (matches && (!best || route.path.length > best.length)) best = { scope: route.scope, length: route.path.length };
  }
  return best?.scope;
}
