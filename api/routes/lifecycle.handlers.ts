import { rateLimits } from '../../config/limits.js';
import {
  mayDecideAsRequester,
  mayDecideStage,
  mayOffboard,
  mayRecertify,
  mayRequestExtension,
} from '../../domain/access-rules.js';
import { actorLabel, decideUpdate, planOffboardingUpdate, recertifyUpdate, requestExtensionUpdate } from '../../workflows/messages.js';
import { operatorOf, type Principal } from '../auth.js';
import {
  actorFor,
  allow,
  assertNotEnded,
  changeRateTier as setRateTier,
  changeSponsor as handOver,
  commandResponse,
  resumePartner,
  revokeInDatabase,
  runUpdate,
  signalRevocation,
  suspendPartner,
} from '../commands.js';
import type { AppDeps } from '../deps.js';
import { loadVisiblePartner, partnerFacts, partnerSelf } from '../partner-view.js';
import { problems } from '../problem.js';
import type { RateLimiter } from '../rate-limit.js';
import type { AppRouteHandler } from '../router.js';
import type * as routes from './lifecycle.routes.js';

// The API's pre-checks ask the access rules (domain/access-rules.ts) the workflow's validators
// ask, on the partners row, so a refusal costs no Update; the workflow checks again on its state.

export function createLifecycleHandlers(deps: AppDeps, limiter: RateLimiter) {
  const limits = rateLimits(deps.limits);
  // Decisions are sensitive flows: a per-operator budget bounds scripted or replayed decisions.
  const decisionBudget = async (c: { get: (k: 'principal') => Principal }) => {
    const principal = c.get('principal');
    const who = principal.kind === 'operator' ? principal.name : 'unknown';
    const decision = await limiter.take(`decisions:${who}`, limits.decisionsPerMinute, 60_000);
    if (!decision.ok) throw problems.tooMany(decision.retryAfterSeconds);
  };

  const decide: AppRouteHandler<typeof routes.decide> = async (c) => {
    await decisionBudget(c);
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
  };

  const recertify: AppRouteHandler<typeof routes.recertify> = async (c) => {
    await decisionBudget(c);
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    assertNotEnded(partner.state);
    allow(mayRecertify(operatorOf(principal), partnerFacts(partner)));
    const result = await runUpdate(deps, id, recertifyUpdate, { ...c.req.valid('json'), actor: actorFor(principal, id) });
    return c.json(commandResponse(id, result), 200);
  };

  const requestExtension: AppRouteHandler<typeof routes.requestExtension> = async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    allow(mayRequestExtension(partnerSelf(principal, partner), partnerFacts(partner)));
    assertNotEnded(partner.state);
    const result = await runUpdate(deps, id, requestExtensionUpdate, { ...c.req.valid('json'), actor: actorFor(principal, id) });
    return c.json(commandResponse(id, result), 200);
  };

  const offboard: AppRouteHandler<typeof routes.offboard> = async (c) => {
    const principal = c.get('principal');
    const { id } = c.req.valid('param');
    const partner = await loadVisiblePartner(deps.db, principal, id);
    const self = partnerSelf(principal, partner);
    const operator = operatorOf(principal);
    allow(mayOffboard(self ? { partner: self } : operator ? { operator } : null, partnerFacts(partner)));
    assertNotEnded(partner.state);
    const result = await runUpdate(deps, id, planOffboardingUpdate, { ...c.req.valid('json'), actor: actorFor(principal, id) });
    return c.json(commandResponse(id, result), 200);
  };

  const revoke: AppRouteHandler<typeof routes.revoke> = async (c) => {
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
    deps.metrics?.revocations.inc({ kind: 'single' });
    const workflowSignalled = await signalRevocation(deps, id, revocation, outboxId);
    c.get('log').warn({ partnerId: id, by: actorLabel(actor), keysRevoked }, 'emergency revocation');
    return c.json({ partnerId: id, state: 'revoked' as const, keysRevoked, workflowSignalled }, 202);
  };

  // governance commands: the services in api/commands.ts (the console pages call them too)
  const suspend: AppRouteHandler<typeof routes.suspend> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await suspendPartner(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const resume: AppRouteHandler<typeof routes.resume> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await resumePartner(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const changeSponsor: AppRouteHandler<typeof routes.changeSponsor> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await handOver(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  const changeRateTier: AppRouteHandler<typeof routes.changeRateTier> = async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await setRateTier(deps, c.get('principal'), id, c.req.valid('json')), 200);
  };

  return { decide, recertify, requestExtension, offboard, revoke, suspend, resume, changeSponsor, changeRateTier };
}
