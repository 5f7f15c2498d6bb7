import { OpenAPIHono } from '@hono/zod-openapi';
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
