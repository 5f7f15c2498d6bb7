import type { AppDeps } from '../deps.js';
import { loadVisiblePartner, partnerOwnView, partnerView } from '../partner-view.js';
import { requestClientAddress, type RateLimiter } from '../rate-limit.js';
import type { AppRouteHandler } from '../router.js';
import { admitSubmission, submit as submitRequest, submitterOf } from '../submissions.js';
import type * as routes from './partners.routes.js';

export function createPartnerHandlers(deps: AppDeps, limiter: RateLimiter) {
  const submit: AppRouteHandler<typeof routes.submit> = async (c) => {
    const submitter = submitterOf(c.get('principal'), requestClientAddress(c));
    // Open to the public, and to operators on a partner's behalf: budgeted per client address or operator
    const idempotencyKey = c.req.header('idempotency-key');
    await admitSubmission(deps, limiter, submitter, idempotencyKey);
    return c.json(await submitRequest(deps, c.get('log'), submitter, c.req.valid('json'), idempotencyKey), 202);
  };

  const get: AppRouteHandler<typeof routes.get> = async (c) => {
    const partner = await loadVisiblePartner(deps.db, c.get('principal'), c.req.valid('param').id);
    const principal = c.get('principal');
    return c.json(principal.kind === 'operator' ? await partnerView(deps.db, partner, deps.policy()) : await partnerOwnView(deps.db, partner), 200);
  };

  return { submit, get };
}
