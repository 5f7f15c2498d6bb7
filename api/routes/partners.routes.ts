import { createRoute, z } from '@hono/zod-openapi';
import { partnerIdSchema, partnerViewSchema, problemSchema, submissionAcceptedSchema, submissionSchema } from '../../schema/api.js';
import { bearerSecurity, problemResponses } from '../openapi.js';

export const submit = createRoute({
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
    ...problemResponses(400, 401, 403),
    // what these mean for a submission, in its own words
    422: { description: 'Semantically invalid (unknown sponsor or scope, reused Idempotency-Key)', content: { 'application/problem+json': { schema: problemSchema } } },
    429: { description: 'Over the submission budget of this client address or operator (see Retry-After)', content: { 'application/problem+json': { schema: problemSchema } } },
    503: { description: 'The database is busy; nothing was recorded (see Retry-After)', content: { 'application/problem+json': { schema: problemSchema } } },
  },
});

export const get = createRoute({
  method: 'get',
  path: '/{id}',
  summary: 'A partner: state, scopes, end date, next deadline, pending stage',
  security: bearerSecurity,
  request: { params: z.object({ id: partnerIdSchema }) },
  responses: {
    200: { description: 'The partner', content: { 'application/json': { schema: partnerViewSchema } } },
    ...problemResponses(400, 401, 403, 404),
  },
});
