import { createRoute, z } from '@hono/zod-openapi';
import { partnerIdSchema, partnerViewSchema, problemSchema, submissionAcceptedSchema, submissionSchema } from '../../schema/api.js';
import { submit, submitterOf } from '../submissions.js';
import type { AppDeps } from '../deps.js';
import { loadVisiblePartner, partnerOwnView, partnerView } from '../partner-view.js';
import { problems } from '../problem.js';
import { bearerSecurity } from '../openapi.js';
import { sourceOf, type RateLimiter } from '../rate-limit.js';
import { rateLimits } from '../../config/limits.js';
import { createRouter } from '../router.js';

const problemResponses = {
  400: { description: 'Invalid body or parameters', content: { 'application/problem+json': { schema: problemSchema } } },
  401: { description: 'Missing or invalid credentials', content: { 'application/problem+json': { schema: problemSchema } } },
  403: { description: 'Not allowed for this caller', content: { 'application/problem+json': { schema: problemSchema } } },
} as const;

const submitRoute = createRoute({
  method: 'post',
  path: '/',
  summary: 'Submit an onboarding request (anyone, rate-limited; or an approver or admin on a partner’s behalf)',
  // credentials optional: none, or an operator's token
  security: [{}, ...bearerSecurity],
  request: {
    body: { required: true, content: { 'application/json': { schema: submissionSchema } } },
  },
  responses: {
    202: {
      description:
        'Accepted: the request is recorded and its approval workflow starts (at once, or as soon as Temporal answers). A replay of the same body with the same Idempotency-Key by the same caller within 24 h answers the original partner and request token, with the partner’s current state',
      content: { 'application/json': { schema: submissionAcceptedSchema } },
    },
    ...problemResponses,
    422: { description: 'Semantically invalid (unknown sponsor or scope, reused Idempotency-Key)', content: { 'application/problem+json': { schema: problemSchema } } },
    429: { description: 'Over the submission budget of this client address or operator (see Retry-After)', content: { 'application/problem+json': { schema: problemSchema } } },
    503: { description: 'The database is busy; nothing was recorded (see Retry-After)', content: { 'application/problem+json': { schema: problemSchema } } },
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/{id}',
  summary: 'A partner: state, scopes, end date, next deadline, pending stage',
  security: bearerSecurity,
  request: { params: z.object({ id: partnerIdSchema }) },
  responses: {
    200: { description: 'The partner', content: { 'application/json': { schema: partnerViewSchema } } },
    ...problemResponses,
    404: { description: 'Unknown partner', content: { 'application/problem+json': { schema: problemSchema } } },
  },
});

export function partnerRoutes(deps: AppDeps, limiter: RateLimiter) {
  const app = createRouter();
  const limits = rateLimits(deps.limits);

  app.openapi(submitRoute, async (c) => {
    const submitter = submitterOf(c.get('principal'), sourceOf(c));
    // Open to the public, and to operators on a partner's behalf: a budget per client address
    // or per operator keeps one caller from flooding approvers.
    const budget = limiter.take(`onboarding:${submitter.caller}`, limits.onboardingPerMinute, 60_000);
    if (!budget.ok) throw problems.tooMany(budget.retryAfterSeconds);
    const idempotencyKey = c.req.header('idempotency-key');
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,128}$/.test(idempotencyKey)) {
      throw problems.badRequest('Idempotency-Key must be 1-128 visible ASCII characters');
    }
    return c.json(await submit(deps, c.get('log'), submitter, c.req.valid('json'), idempotencyKey), 202);
  });

  app.openapi(getRoute, async (c) => {
    const partner = await loadVisiblePartner(deps.db, c.get('principal'), c.req.valid('param').id);
    const principal = c.get('principal');
    return c.json(principal.kind === 'operator' ? await partnerView(deps.db, partner) : await partnerOwnView(deps.db, partner), 200);
  });

  return app;
}
