import type { AppDeps } from '../deps.js';
import { createRouter } from '../router.js';
import { createNotificationHandlers } from './notifications.handlers.js';
import * as routes from './notifications.routes.js';

/** Dead letters of the notice outbox: the contract in notifications.routes.ts, behaviour in notifications.handlers.ts. */
export function notificationRoutes(deps: AppDeps) {
  const handlers = createNotificationHandlers(deps);
  return createRouter().openapi(routes.deadLetters, handlers.deadLetters).openapi(routes.redeliver, handlers.redeliver);
}
