import { createRoute, z } from '@hono/zod-openapi';
import {
  commandResultSchema,
  decisionSchema,
  extensionSchema,
  offboardingSchema,
  partnerIdSchema,
  recertificationSchema,
  revocationAcceptedSchema,
  revocationSchema,
} from '../../schema/api.js';
import { actorLabel, decideUpdate, planOffboardingUpdate, recertifyUpdate, requestExtensionUpdate } from '../../workflows/messages.js';
import {
  mayDecideAsRequester,
  mayDecideStage,
  mayOffboard,
  mayRecertify,
  mayRequestExtension,
  type Permission,
} from '../../domain/access-rules.js';
import { operatorOf, requireRole, type Principal } from '../auth.js';
import type { RateLimiter } from '../rate-limit.js';
import { actorFor, assertNotEnded, commandResponse, revokeInDatabase, runUpdate, signalRevocation } from '../commands.js';
import type { AppDeps } from '../deps.js';
import { bearerSecurity, problemResponses } from '../openapi.js';
import { loadVisiblePartner, partnerFacts, partnerSelf } from '../partner-view.js';
import { problems } from '../problem.js';
import { rateLimits } from '../../config/limits.js';
import { createRouter } from '../router.js';

const params = z.object({ id: partnerIdSchema });

/**
 * The API's pre-checks ask the access rules (domain/access-rules.ts) the workflow's validators
 * ask, on the partners row, so a refusal costs no Update; the workflow checks again on its state.
 */
const allow = (permission: Permission) => {
  if (!permission.ok) throw problems.forbidden(permission.reason);
};
const json = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
const ok = { 200: { description: 'Done: the workflow’s answer', content: { 'application/json': { schema: commandResultSchema } } } };
const commandProblems = problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 503);
// decisions and recertifications spend a per-operator budget
const decisionProblems = { ...commandProblems, ...problemResponses(429) };

const decisionRoute = createRoute({
  method: 'post',
  path: '/{id}/decisions',
  summary: 'Approve or reject the pending stage (sponsor, then security), or a pending extension (sponsor)',
  security: bearerSecurity,
  middleware: [requireRole('approver', 'security')] as const,
  request: { params, body: json(decisionSchema) },
  responses: { ...ok, ...decisionProblems },
});
const recertificationRoute = createRoute({
  method: 'post',
  path: '/{id}/recertifications',
  summary: 'Answer a due recertification: keep, narrow or revoke (sponsor)',
  security: bearerSecurity,
  middleware: [requireRole('approver')] as const,
  request: { params, body: json(recertificationSchema) },
  responses: { ...ok, ...decisionProblems },
});
const extensionRoute = createRoute({
  method: 'post',
  path: '/{id}/extension',
  summary: 'Ask the sponsor for a later access end (partner)',
  security: bearerSecurity,
  request: { params, body: json(extensionSchema) },
  responses: { ...ok, ...commandProblems },
});
const offboardingRoute = createRoute({
  method: 'post',
  path: '/{id}/offboarding',
  summary: 'Offboard now or plan it for a date (partner, sponsor, admin)',
  security: bearerSecurity,
  request: { params, body: json(offboardingSchema) },
  responses: { ...ok, ...commandProblems },
});
const revocationRoute = createRoute({
  method: 'post',
  path: '/{id}/revocation',
  summary: 'Emergency revocation: every key dies in this request; the workflow finishes the clean-up (security)',
  security: bearerSecurity,
  middleware: [requireRole('security')] as const,
  request: { params, body: json(revocationSchema) },
  responses: {
    202: { description: 'Revoked in the database; the workflow is signalled', content: { 'application/json': { schema: revocationAcceptedSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

export function lifecycleRoutes(deps: AppDeps, limiter: RateLimiter) {
  const app = createRouter();
  const limits = rateLimits(deps.limits);
  // Decisions are sensitive flows: a per-operator budget bounds scripted or replayed decisions.
  const decisionBudget = (c: { get: (k: 'principal') => Principal }) => {
    const principal = c.get('principal');
    const who = principal.kind === 'operator' ? principal.name : 'unknown';
    const decision = limiter.take(`decisions:${who}`, limits.decisionsPerMinute, 60_000);
    if (!decision.ok) throw problems.tooMany(decision.retryAfterSeconds);
  };

  app.openapi(decisionRoute, async (c) => {
    decisionBudget(c);
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    assertNotEnded(partner.state);
    if (principal.kind !== 'operator') throw problems.forbidden();
    const facts = partnerFacts(partner);
    allow(mayDecideAsRequester(principal, facts));
    // An extension decision's "who" is left to the workflow, which knows whether one is waiting.
    if (facts.state === 'pending_approval') allow(mayDecideStage(principal, facts));
    // the stage checked above is the one decided: a concurrent approval that closes it first makes this one a 409
    const stage = facts.state === 'pending_approval' ? facts.stage : null;
    const result = await runUpdate(deps, id, decideUpdate, { ...body, ...(stage ? { stage } : {}), actor: actorFor(principal, id) });
    return c.json(commandResponse(id, result), 200);
  });

  app.openapi(recertificationRoute, async (c) => {
    decisionBudget(c);
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    assertNotEnded(partner.state);
    allow(mayRecertify(operatorOf(principal), partnerFacts(partner)));
    const result = await runUpdate(deps, id, recertifyUpdate, { ...c.req.valid('json'), actor: actorFor(principal, id) });
    return c.json(commandResponse(id, result), 200);
  });

  app.openapi(extensionRoute, async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    allow(mayRequestExtension(partnerSelf(principal, partner), partnerFacts(partner)));
    assertNotEnded(partner.state);
    const result = await runUpdate(deps, id, requestExtensionUpdate, { ...c.req.valid('json'), actor: actorFor(principal, id) });
    return c.json(commandResponse(id, result), 200);
  });

  app.openapi(offboardingRoute, async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    const self = partnerSelf(principal, partner);
    const operator = operatorOf(principal);
    allow(mayOffboard(self ? { partner: self } : operator ? { operator } : null, partnerFacts(partner)));
    assertNotEnded(partner.state);
    const result = await runUpdate(deps, id, planOffboardingUpdate, { ...c.req.valid('json'), actor: actorFor(principal, id) });
    return c.json(commandResponse(id, result), 200);
  });

  app.openapi(revocationRoute, async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const { reason } = c.req.valid('json');
    await loadVisiblePartner(deps.db, principal, id);
    const actor = actorFor(principal, id);
    const at = new Date().toISOString();
    const revocation = { reason, actor, at };
    const revoked = await revokeInDatabase(deps.db, id, revocation);
    if (revoked === undefined) throw problems.conflict('the partner’s lifecycle has already ended');
    const { keysRevoked, outboxId } = revoked;
    const workflowSignalled = await signalRevocation(deps, id, revocation, outboxId);
    c.get('log').warn({ partnerId: id, by: actorLabel(actor), keysRevoked }, 'emergency revocation');
    return c.json({ partnerId: id, state: 'revoked' as const, keysRevoked, workflowSignalled }, 202);
  });

  return app;
}
