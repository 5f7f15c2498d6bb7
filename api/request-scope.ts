/**
 * The request being served, for code the request reaches without a Hono context: the Temporal
 * client's interceptor (runtime/request-context.ts) carries its id into the workflow and activity
 * logs. Set by the request-id middleware in api/app.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export const requestScope = new AsyncLocalStorage<string>();

/** The id of the request this code runs for, if any. */
export const currentRequestId = (): string | undefined => requestScope.getStore();
