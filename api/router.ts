import { OpenAPIHono, type RouteConfig, type RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from './auth.js';
import { validationHook } from './validation.js';

/**
 * Every router of the API (the app and each resource's routes) is made here: the same
 * environment types and the same answer to a failed validation (400 listing every issue), so a
 * new resource cannot forget either.
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}

/**
 * The type of a handler for one route contract (a `createRoute(...)` in `api/routes/*.routes.ts`):
 * its params, query and body are the route's validated types, and it may only answer the statuses
 * and bodies the contract declares, so a handler and its OpenAPI entry cannot drift apart.
 */
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;
