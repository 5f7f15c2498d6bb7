import { createRoute, z } from '@hono/zod-openapi';
import { generateOpaqueToken, hashToken, randomBase62 } from '../../domain/api-key.js';
import { partnerIdSchema, partnerViewSchema, problemSchema, submissionAcceptedSchema, submissionSchema } from '../../schema/api.js';
import type { PartnerRow } from '../../schema/database.js';
import { claimIdempotencyKey, findIdempotent, idempotencyRef, openIdempotentResponse, type IdempotencyRef } from '../idempotency.js';
import { isUnstarted, startLifecycle, submitterOf } from '../submissions.js';
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

type SubmissionAccepted = z.infer<typeof submissionAcceptedSchema>;

export function partnerRoutes(deps: AppDeps, limiter: RateLimiter) {
  const app = createRouter();
  const limits = rateLimits(deps.limits);

  app.openapi(submitRoute, async (c) => {
    const submitter = submitterOf(c.get('principal'), sourceOf(c));
    // Open to the public, and to operators on a partner's behalf: a budget per client address
    // or per operator keeps one caller from flooding approvers.
    const budget = limiter.take(`onboarding:${submitter.caller}`, limits.onboardingPerMinute, 60_000);
    if (!budget.ok) throw problems.tooMany(budget.retryAfterSeconds);
    const body = c.req.valid('json');
    const policy = deps.policy();
    const { requestedBy } = submitter;

    const idempotencyKey = c.req.header('idempotency-key');
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,128}$/.test(idempotencyKey)) {
      throw problems.badRequest('Idempotency-Key must be 1-128 visible ASCII characters');
    }
    // Keys are the caller's own: the same key from another operator or client address is simply
    // another key, so a replay never tells a stranger that the key exists.
    const idempotency = idempotencyKey ? idempotencyRef(deps.pickupKey, submitter.caller, idempotencyKey, body) : undefined;

    /** The answer to a repeated request: the original partner and token, in its state now. */
    const replay = async (ref: IdempotencyRef) => {
      const seen = await findIdempotent(deps.db, ref);
      if (!seen) return undefined;
      if (seen.body_hash !== ref.bodyHash) throw problems.unprocessable('Idempotency-Key was already used with a different body');
      const row = await deps.db.selectFrom('partners').selectAll().where('id', '=', seen.partner_id).executeTakeFirst();
      if (!row) return undefined;
      // The first attempt's start may have failed: start it, but only if no run ever touched it.
      if (isUnstarted(row)) await startOrLeaveToResume(row);
      const original = openIdempotentResponse<SubmissionAccepted>(deps.pickupKey, seen, ref);
      return c.json({ ...original, state: row.state }, 202);
    };
    const startOrLeaveToResume = async (row: PartnerRow) => {
      try {
        await startLifecycle(deps.temporal.client, deps.temporal.taskQueue, row);
      } catch (err) {
        // The row is committed, so the submission is accepted; the start may even have reached
        // the server. Never undo the row: the resume loop starts it (idempotently) once Temporal answers.
        c.get('log').warn({ err, partnerId: row.id }, 'workflow start failed; the resume loop will start it');
      }
    };

    if (idempotency) {
      const answer = await replay(idempotency);
      if (answer) return answer;
    }

    const unknown = body.scopes.filter((scope) => !policy.scopes[scope]);
    if (unknown.length > 0) throw problems.unprocessable(`unknown scopes: ${unknown.join(', ')}`);
    const sponsor = await deps.db
      .selectFrom('operators')
      .select(['name', 'roles'])
      .where('name', '=', body.sponsor)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!sponsor || !(JSON.parse(sponsor.roles) as string[]).includes('approver')) {
      throw problems.unprocessable(`sponsor ${body.sponsor} is not an approver`);
    }
    if (requestedBy === `operator:${body.sponsor}`) throw problems.unprocessable('the requester cannot be the sponsor');

    const envPolicy = policy.environments[body.environment];
    const now = Date.now();
    const maxUntil = now + envPolicy.maxAccess;
    const accessUntilMs = body.accessUntil ? Date.parse(body.accessUntil) : maxUntil;
    if (accessUntilMs <= now) throw problems.unprocessable('accessUntil must be in the future');
    if (accessUntilMs > maxUntil) throw problems.unprocessable(`accessUntil is beyond the policy maximum (${new Date(maxUntil).toISOString()})`);

    const partnerId = randomBase62(16);
    const requestToken = generateOpaqueToken('prt');
    const scopes = [...new Set(body.scopes)];
    const submittedAt = new Date(now).toISOString();
    const accessUntil = new Date(accessUntilMs).toISOString();
    const response: SubmissionAccepted = { partnerId, requestToken, state: 'pending_approval' };
    const row: PartnerRow = {
      id: partnerId,
      name: body.name,
      contact_email: body.contactEmail,
      sponsor: body.sponsor,
      requested_by: requestedBy,
      environment: body.environment,
      scopes: JSON.stringify(scopes),
      justification: body.justification,
      state: 'pending_approval',
      stage: 'sponsor',
      escalated: 0,
      access_until: accessUntil,
      next_deadline_at: null,
      next_deadline_action: null,
      policy_version: policy.version,
      rate_limit_tier: envPolicy.defaultRateLimitTier,
      request_token_hash: hashToken(requestToken),
      recert_cycle: 0,
      last_certified_at: null,
      pending_extension: null,
      planned_offboarding: null,
      end_reason: null,
      ended_at: null,
      transition_seq: 0,
      created_at: submittedAt,
      updated_at: submittedAt,
    };

    const committed = await deps.db.transaction().execute(async (trx) => {
      if (idempotency && !(await claimIdempotencyKey(trx, idempotency, deps.pickupKey, { partnerId, response, at: submittedAt }))) {
        return false; // a concurrent request with the same key got there first
      }
      await trx.insertInto('partners').values(row).execute();
      return true;
    });
    if (!committed) {
      const answer = idempotency && (await replay(idempotency));
      if (answer) return answer;
      throw problems.unavailable('a request with the same Idempotency-Key is being recorded; retry', 1);
    }

    // From here the submission is accepted, whatever the workflow start does.
    await startOrLeaveToResume(row);
    c.get('log').info({ partnerId, requestedBy, environment: body.environment }, 'partner submitted');
    return c.json(response, 202);
  });

  app.openapi(getRoute, async (c) => {
    const partner = await loadVisiblePartner(deps.db, c.get('principal'), c.req.valid('param').id);
    const principal = c.get('principal');
    return c.json(principal.kind === 'operator' ? await partnerView(deps.db, partner) : await partnerOwnView(deps.db, partner), 200);
  });

  return app;
}
