import { operatorLabel } from '../../domain/access-rules.js';
import { defaultRetryPolicy } from '../../domain/notice-delivery.js';
import { deadLetters as listDeadLetters, redeliver as requeue } from '../../schema/repositories/notifications.js';
import type { AppDeps } from '../deps.js';
import { problems } from '../problem.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './notifications.routes.js';

export function createNotificationHandlers(deps: AppDeps) {
  const deadLetters: AppRouteHandler<typeof routes.deadLetters> = async (c) => c.json({ items: await listDeadLetters(deps.db, c.req.valid('query').limit) }, 200);

  const redeliver: AppRouteHandler<typeof routes.redeliver> = async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'operator') throw problems.forbidden();
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const at = new Date();
    const retryUntil = new Date(at.getTime() + (deps.noticeRetry ?? defaultRetryPolicy).retryForMs).toISOString();
    const requeued = await requeue(deps.db, { notificationId: id, endpoint: body.endpoint, at, retryUntil }, { actor: operatorLabel(principal), reason: body.reason });
    if (requeued === 0) throw problems.conflict(`notice ${id} has no dead delivery${body.endpoint ? ` to ${body.endpoint}` : ''}`);
    c.get('log').info({ notificationId: id, endpoint: body.endpoint ?? null, requeued }, 'notice requeued');
    return c.json({ notificationId: id, requeued }, 202);
  };

  return { deadLetters, redeliver };
}
