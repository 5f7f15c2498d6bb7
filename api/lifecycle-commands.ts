import type { Logger } from 'pino';
import type { z } from 'zod';
import { rateLimits } from '../config/limits.js';
import {
  mayDecideAsRequester,
  mayDecideStage,
  mayOffboard,
  mayRecertify,
  mayRequestExtension,
} from '../domain/access-rules.js';
import type { PartnerState } from '../domain/partner-states.js';
import type { bulkRevocationSchema, decisionSchema, extensionSchema, offboardingSchema, recertificationSchema, revocationSchema } from '../schema/api.js';
import { liveHolders } from '../schema/repositories/partners.js';
import { actorLabel, decideUpdate, planOffboardingUpdate, recertifyUpdate, requestExtensionUpdate } from '../workflows/messages.js';
import { operatorOf, type Principal } from './auth.js';
import { actorFor, allow, assertNotEnded, commandResponse, revokeInDatabase, runUpdate, signalRevocation } from './commands.js';
import type { AppDeps } from './deps.js';
import { loadVisiblePartner, partnerFacts, partnerSelf } from './partner-view.js';
import { problems } from './problem.js';
import type { RateLimiter } from './rate-limit.js';

/**
 * The lifecycle commands as services: one function per command, called by the JSON handlers
 * (api/routes/lifecycle.handlers.ts, revocations.handlers.ts) and by the pages (the console's
 * forms, the portal's extension and offboarding forms), so a command is checked and carried out
 * by one piece of code whichever door it came through. Each takes the caller as the API
 * authenticated it and a body the API's schema (schema/api.ts) has already parsed; a refusal is
 * a `Problem` (or a typed workflow failure that api/temporal-errors.ts maps), never a partial write.
 */

export type DecisionInput = z.output<typeof decisionSchema>;
export type RecertificationInput = z.output<typeof recertificationSchema>;
export type ExtensionInput = z.output<typeof extensionSchema>;
export type OffboardingInput = z.output<typeof offboardingSchema>;
export type RevocationRequest = z.output<typeof revocationSchema>;
export type BulkRevocationRequest = z.output<typeof bulkRevocationSchema>;
export type CommandResponse = ReturnType<typeof commandResponse>;

// The API's pre-checks ask the access rules (domain/access-rules.ts) the workflow's validators
// ask, on the partners row (`allow`), so a refusal costs no Update; the workflow checks again on its state.

/** Decisions are sensitive flows: a per-operator budget bounds scripted or replayed decisions. */
async function spendDecisionBudget(deps: AppDeps, limiter: RateLimiter, principal: Principal): Promise<void> {
  const who = principal.kind === 'operator' ? principal.name : 'unknown';
  const decision = await limiter.take(`decisions:${who}`, rateLimits(deps.limits).decisionsPerMinute, 60_000);
  if (!decision.ok) throw problems.tooMany(decision.retryAfterSeconds);
}

/** Approve or reject the pending approval stage, or a pending extension (the workflow knows which waits). */
export async function decide(deps: AppDeps, limiter: RateLimiter, principal: Principal, partnerId: string, input: DecisionInput): Promise<CommandResponse> {
  await spendDecisionBudget(deps, limiter, principal);
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  assertNotEnded(partner.state);
  if (principal.kind !== 'operator') throw problems.forbidden();
  const facts = partnerFacts(partner);
  allow(mayDecideAsRequester(principal, facts));
  // An extension decision's "who" is left to the workflow, which knows whether one is waiting.
  if (facts.state === 'pending_approval') allow(mayDecideStage(principal, facts));
  // the stage the approver was shown, else the one checked above, is the one decided: a concurrent
  // approval that closes it first makes this one a 409
  const stage = input.stage ?? (facts.state === 'pending_approval' ? facts.stage : null);
  const result = await runUpdate(deps, partnerId, decideUpdate, { ...input, ...(stage ? { stage } : {}), actor: actorFor(principal, partnerId) });
  return commandResponse(partnerId, result);
}

/** The sponsor (or security, whose keep is a drifted grant's missing security stage) answers a due recertification: keep, narrow or revoke. */
export async function recertify(deps: AppDeps, limiter: RateLimiter, principal: Principal, partnerId: string, input: RecertificationInput): Promise<CommandResponse> {
  await spendDecisionBudget(deps, limiter, principal);
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  assertNotEnded(partner.state);
  allow(mayRecertify(operatorOf(principal), partnerFacts(partner)));
  // the review the reviewer was shown, else the one read open here, is the one answered: if it closes
  // first (a concurrent answer, a held retry, a form left open), this is a 409
  const answer = { ...input, cycle: input.cycle ?? partner.recert_cycle, actor: actorFor(principal, partnerId) };
  return commandResponse(partnerId, await runUpdate(deps, partnerId, recertifyUpdate, answer));
}

/** The partner asks its sponsor for a later access end. */
export async function requestExtension(deps: AppDeps, principal: Principal, partnerId: string, input: ExtensionInput): Promise<CommandResponse> {
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  allow(mayRequestExtension(partnerSelf(principal, partner), partnerFacts(partner)));
  assertNotEnded(partner.state);
  return commandResponse(partnerId, await runUpdate(deps, partnerId, requestExtensionUpdate, { ...input, actor: actorFor(principal, partnerId) }));
}

/** Offboard now, or plan it for a date (the partner itself, its sponsor, an admin). */
export async function planOffboarding(deps: AppDeps, principal: Principal, partnerId: string, input: OffboardingInput): Promise<CommandResponse> {
  const partner = await loadVisiblePartner(deps.db, principal, partnerId);
  const self = partnerSelf(principal, partner);
  const operator = operatorOf(principal);
  allow(mayOffboard(self ? { partner: self } : operator ? { operator } : null, partnerFacts(partner)));
  assertNotEnded(partner.state);
  return commandResponse(partnerId, await runUpdate(deps, partnerId, planOffboardingUpdate, { ...input, actor: actorFor(principal, partnerId) }));
}

export interface RevocationOutcome {
  partnerId: string;
  state: 'revoked';
  keysRevoked: number;
  workflowSignalled: boolean;
}

/**
 * Emergency revocation of one partner (security; the route's role guard is the caller's): every
 * key dies in the database in this call, then the workflow is signalled (or the signal is queued
 * for redelivery), so it is effective even with Temporal down.
 */
export async function revoke(deps: AppDeps, principal: Principal, partnerId: string, input: RevocationRequest, log: Logger = deps.logger): Promise<RevocationOutcome> {
  await loadVisiblePartner(deps.db, principal, partnerId);
  const actor = actorFor(principal, partnerId);
  const revocation = { reason: input.reason, actor, at: new Date().toISOString() };
  const revoked = await revokeInDatabase(deps.db, partnerId, revocation);
  if (revoked === undefined) throw problems.conflict('the partner’s lifecycle has already ended');
  const { keysRevoked, outboxId } = revoked;
  deps.metrics?.revocations.inc({ kind: 'single' });
  const workflowSignalled = await signalRevocation(deps, partnerId, revocation, outboxId);
  log.warn({ partnerId, by: actorLabel(actor), keysRevoked }, 'emergency revocation');
  return { partnerId, state: 'revoked', keysRevoked, workflowSignalled };
}

export interface ContainmentTarget {
  partnerId: string;
  name: string;
  state: PartnerState;
  scopes: string[];
}

export type BulkRevocationOutcome = { dryRun: true; partners: ContainmentTarget[] } | { dryRun: false; partners: Array<ContainmentTarget & { keysRevoked: number }> };

/**
 * Bulk containment (security): every live partner matching all the given filters (scope,
 * environment, ids). A dry run lists them and changes nothing. A confirm that names the dry run's
 * ids as `partnerIds` revokes at most those (the filters only narrow, so a partner that started
 * matching after the dry run is not swept in); a partner that ended meanwhile is skipped.
 */
export async function bulkRevoke(deps: AppDeps, principal: Principal, input: BulkRevocationRequest, log: Logger = deps.logger): Promise<BulkRevocationOutcome> {
  const targets = await liveHolders(deps.db, input);
  const view = (p: (typeof targets)[number]): ContainmentTarget => ({ partnerId: p.id, name: p.name, state: p.state, scopes: JSON.parse(p.scopes) as string[] });
  if (input.dryRun) return { dryRun: true, partners: targets.map(view) };

  const results: Array<ContainmentTarget & { keysRevoked: number }> = [];
  for (const target of targets) {
    const actor = actorFor(principal, target.id);
    const revocation = { reason: input.reason, actor, at: new Date().toISOString() };
    const revoked = await revokeInDatabase(deps.db, target.id, revocation);
    if (revoked === undefined) continue; // ended meanwhile
    deps.metrics?.revocations.inc({ kind: 'bulk' });
    await signalRevocation(deps, target.id, revocation, revoked.outboxId);
    results.push({ ...view(target), keysRevoked: revoked.keysRevoked });
  }
  log.warn({ by: principal.kind === 'operator' ? principal.name : principal.kind, count: results.length, scope: input.scope, environment: input.environment }, 'bulk revocation');
  return { dryRun: false, partners: results };
}
