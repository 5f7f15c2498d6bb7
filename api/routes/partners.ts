import { createHash } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { generateOpaqueToken, hashToken, randomBase62 } from '../../domain/api-key.js';
import { open, seal } from '../../domain/sealed-box.js';
import { partnerIdSchema, partnerViewSchema, problemSchema, submissionAcceptedSchema, submissionSchema } from '../../schema/api.js';
import { startLifecycle } from '../submissions.js';
import type { AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { loadVisiblePartner, partnerView } from '../partner-view.js';
import { problems } from '../problem.js';
import { bearerSecurity } from '../openapi.js';
import { validationHook } from '../validation.js';
import { sourceOf, type RateLimiter } from '../rate-limit.js';
import { rateLimits } from '../../config/limits.js';

const problemResponses = {
  400: { description: 'Invalid body or parameters', content: { 'application/problem+json': { schema: problemSchema } } },
  401: { description: 'Missing or invalid credentials', content: { 'application/problem+json': { schema: problemSchema } } },
  403: { description: 'Not allowed for this caller', content: { 'application/problem+json': { schema: problemSchema } } },
} as const;

const submitRoute = createRoute({
  method: 'post',
  path: '/',
  summary: 'Submit an onboarding request (anyone, rate-limited; or an operator on a partner’s behalf)',
  // credentials optional: none, or an operator's token
  security: [{}, ...bearerSecurity],
  request: {
    body: { required: true, content: { 'application/json': { schema: submissionSchema } } },
  },
  responses: {
    202: { description: 'Accepted: the approval workflow started', content: { 'application/json': { schema: submissionAcceptedSchema } } },
    ...problemResponses,
    422: { description: 'Semantically invalid (unknown sponsor or scope, reused Idempotency-Key)', content: { 'application/problem+json': { schema: problemSchema } } },
    429: { description: 'Over the per-source budget of anonymous submissions (see Retry-After)', content: { 'application/problem+json': { schema: problemSchema } } },
    503: { description: 'Temporal unavailable', content: { 'application/problem+json': { schema: problemSchema } } },
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

const bodyHash = (body: unknown) => createHash('sha256').update(JSON.stringify(body)).digest('hex');

export function partnerRoutes(deps: AppDeps, limiter: RateLimiter) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const limits = rateLimits(deps.limits);

  app.openapi(submitRoute, async (c) => {
    const principal = c.get('principal');
    if (principal.kind !== 'anonymous' && principal.kind !== 'operator') throw problems.forbidden('partners cannot submit requests for others');
    if (principal.kind === 'anonymous') {
      // Open to the public: a per-source budget keeps one caller from flooding approvers.
      const decision = limiter.take(`onboarding:${sourceOf(c)}`, limits.onboardingPerMinute, 60_000);
      if (!decision.ok) throw problems.tooMany(decision.retryAfterSeconds);
    }
    const body = c.req.valid('json');
    const policy = deps.policy();
    const requestedBy = principal.kind === 'operator' ? `operator:${principal.name}` : 'partner';

    const idempotencyKey = c.req.header('idempotency-key');
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,128}$/.test(idempotencyKey)) {
      throw problems.badRequest('Idempotency-Key must be 1-128 visible ASCII characters');
    }
    const idempotencyScope = principal.kind === 'operator' ? `operator:${principal.name}` : 'public';
    const hash = bodyHash(body);
    if (idempotencyKey) {
      const seen = await deps.db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('scope', '=', idempotencyScope)
        .where('key', '=', idempotencyKey)
        .executeTakeFirst();
      if (seen) {
        if (seen.body_hash !== hash) throw problems.unprocessable('Idempotency-Key was already used with a different body');
        // The first attempt may have died between its commit and the workflow start: make sure it runs.
        const row = await deps.db.selectFrom('partners').selectAll().where('id', '=', seen.partner_id).executeTakeFirst();
        if (row) await startLifecycle(deps.temporal.client, deps.temporal.taskQueue, row);
        return c.json(JSON.parse(open(deps.pickupKey, seen.response, `idempotency:${idempotencyScope}:${idempotencyKey}`)), 202);
      }
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
    const response = { partnerId, requestToken, state: 'pending_approval' as const };

    await deps.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('partners')
        .values({
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
        })
        .execute();
      if (idempotencyKey) {
        await trx
          .insertInto('idempotency_keys')
          .values({
            key: idempotencyKey,
            scope: idempotencyScope,
            body_hash: hash,
            partner_id: partnerId,
            response: seal(deps.pickupKey, JSON.stringify(response), `idempotency:${idempotencyScope}:${idempotencyKey}`),
            created_at: submittedAt,
          })
          .execute();
      }
    });

    try {
      const row = await deps.db.selectFrom('partners').selectAll().where('id', '=', partnerId).executeTakeFirstOrThrow();
      await startLifecycle(deps.temporal.client, deps.temporal.taskQueue, row);
    } catch (err) {
      // Not acknowledged: undo the row so a retry starts clean, and tell the caller to retry.
      c.get('log').error({ err, partnerId }, 'could not start the partner workflow');
      await deps.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('idempotency_keys').where('partner_id', '=', partnerId).execute();
        await trx.deleteFrom('partners').where('id', '=', partnerId).execute();
      });
      throw problems.unavailable('the workflow service is unavailable; retry later');
    }
    c.get('log').info({ partnerId, requestedBy, environment: body.environment }, 'partner submitted');
    return c.json(response, 202);
  });

  app.openapi(getRoute, async (c) => {
    const partner = await loadVisiblePartner(deps.db, c.get('principal'), c.req.valid('param').id);
    return c.json(await partnerView(deps.db, partner), 200);
  });

  return app;
}
