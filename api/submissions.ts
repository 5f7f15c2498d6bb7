import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { generateOpaqueToken, hashToken, randomBase62 } from '../domain/api-key.js';
import type { submissionAcceptedSchema, submissionSchema } from '../schema/api.js';
import type { PartnerRow } from '../schema/database.js';
import type { Db } from '../schema/db.js';
import { findPartner, isUnstarted, recordSubmission, unstartedSubmissions } from '../schema/repositories/partners.js';
import { partnerEnvironmentKey, partnerSponsorKey } from '../runtime/search-attributes.js';
import { maySubmitOnBehalf, submitOnBehalfRoles } from '../domain/access-rules.js';
import { budgetSourceOf } from '../domain/client-address.js';
import { workflowIdFor, type Submission } from '../workflows/messages.js';
import type { partnerLifecycle } from '../workflows/partner-lifecycle.js';
import type { Principal } from './auth.js';
import { assertSponsorable } from './commands.js';
import type { AppDeps } from './deps.js';
import { findIdempotent, idempotencyClaim, idempotencyRef, openIdempotentResponse, type IdempotencyRef } from './idempotency.js';
import { problems } from './problem.js';
import type { RateLimiter } from './rate-limit.js';
import { rateLimits } from '../config/limits.js';

type SubmissionBody = z.infer<typeof submissionSchema>;
type SubmissionAccepted = z.infer<typeof submissionAcceptedSchema>;

export interface Submitter {
  /** recorded on the partner and its `partner.submitted` event */
  requestedBy: string;
  /** whose Idempotency-Keys it may replay: the operator, or the client's own address */
  caller: string;
  /** whose budget the submission spends: the operator, or the client's budget source (an IPv6 address's /64) */
  budget: string;
}

/**
 * Who may submit, and as whom: anyone anonymously (budgeted per client address), an operator
 * with a role of `submitOnBehalfRoles` (budgeted per operator); nobody else. An anonymous
 * client's Idempotency-Keys are its own address's: budgets go by an IPv6 /64 (one host usually
 * owns one), but hosts of one /64 can be strangers (a provider's shared segment), and a replay
 * answers the request token.
 */
export function submitterOf(principal: Principal, clientAddress: string): Submitter {
  if (principal.kind === 'anonymous') return { requestedBy: 'partner', caller: `source:${clientAddress}`, budget: `source:${budgetSourceOf(clientAddress)}` };
  if (principal.kind !== 'operator') throw problems.forbidden('partners cannot submit requests for others');
  if (!maySubmitOnBehalf(principal.roles)) {
    throw problems.forbidden(
      `submitting on a partner's behalf needs one of the roles: ${submitOnBehalfRoles.join(', ')} (security decides independently of requests, auditors only read, gateways are machines)`,
    );
  }
  return { requestedBy: `operator:${principal.name}`, caller: `operator:${principal.name}`, budget: `operator:${principal.name}` };
}

/**
 * What every submission door checks before `submit`: the submitter's onboarding budget (per client
 * address, or per operator, so one caller cannot flood approvers) and the Idempotency-Key's form.
 * The JSON handler and the portal's request form both call it.
 */
export async function admitSubmission(deps: Pick<AppDeps, 'limits'>, limiter: RateLimiter, submitter: Submitter, idempotencyKey: string | undefined): Promise<void> {
  const budget = await limiter.take(`onboarding:${submitter.budget}`, rateLimits(deps.limits).onboardingPerMinute, 60_000);
  if (!budget.ok) throw problems.tooMany(budget.retryAfterSeconds);
  if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,128}$/.test(idempotencyKey)) {
    throw problems.badRequest('Idempotency-Key must be 1-128 visible ASCII characters');
  }
}

/** A start that hangs (Temporal unreachable) is cut short; the resume loop tries again. */
const startDeadlineMs = 5000;

/**
 * Starts the partner's workflow from its submitted row; call it only for an unstarted row (`isUnstarted`,
 * schema/repositories/partners.ts). Idempotent: a running workflow of the partner is kept (USE_EXISTING), and a
 * closed one is never followed by a new run unless it ended without completing
 * (ALLOW_DUPLICATE_FAILED_ONLY: a run that failed or was terminated before its first write left
 * the row unstarted; one that completed — rejected, expired, offboarded, revoked — never gets a
 * successor). "Already started" counts as started.
 */
export async function startLifecycle(client: Client, taskQueue: string, row: PartnerRow): Promise<void> {
  const submission: Submission = {
    environment: row.environment,
    sponsor: row.sponsor,
    requestedBy: row.requested_by,
    scopes: JSON.parse(row.scopes) as string[],
    accessUntil: row.access_until,
    submittedAt: row.created_at,
  };
  try {
    await client.withDeadline(Date.now() + startDeadlineMs, () =>
      client.workflow.start<typeof partnerLifecycle>('partnerLifecycle', {
        workflowId: workflowIdFor(row.id),
        taskQueue,
        args: [{ partnerId: row.id, submission }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        typedSearchAttributes: [
          { key: partnerEnvironmentKey, value: row.environment },
          { key: partnerSponsorKey, value: row.sponsor },
        ],
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    throw err;
  }
}

/**
 * Starts every unstarted submission older than `olderThanMs` (younger ones may still be starting
 * in the request that committed them). The API runs this every few seconds: a submission whose
 * start failed, timed out or was cut short by a crash is never left behind. Stops at the first
 * failure (Temporal is most likely unreachable; the next pass tries again) so passes stay short.
 */
export async function resumeUnstartedSubmissions(deps: { db: Db; client: Client; taskQueue: string; logger: Logger }, olderThanMs = 15_000): Promise<number> {
  const cutoff = new Date(Date.now() - olderThanMs).toISOString();
  const rows = await unstartedSubmissions(deps.db, cutoff);
  for (const row of rows) {
    await startLifecycle(deps.client, deps.taskQueue, row);
    deps.logger.info({ partnerId: row.id }, 'resumed a submission whose workflow start did not complete');
  }
  return rows.length;
}

/**
 * Records an onboarding request and starts its workflow. The row is committed first (with the
 * caller's Idempotency-Key claim, if any); from then on the submission is accepted whatever the
 * start does: a failed start is left to the resume loop, never undone. A repeated key from the
 * same caller answers the original partner and request token, in the partner's state now.
 */
export async function submit(
  deps: Pick<AppDeps, 'db' | 'temporal' | 'policy' | 'pickupKey'>,
  log: Logger,
  submitter: Submitter,
  body: SubmissionBody,
  idempotencyKey: string | undefined,
): Promise<SubmissionAccepted> {
  // Keys are the caller's own: the same key from another operator or client address is simply
  // another key, so a replay never tells a stranger that the key exists.
  const idempotency = idempotencyKey ? idempotencyRef(deps.pickupKey, submitter.caller, idempotencyKey, body) : undefined;
  const startOrLeaveToResume = async (row: PartnerRow) => {
    try {
      await startLifecycle(deps.temporal.client, deps.temporal.taskQueue, row);
    } catch (err) {
      // The row is committed, so the submission is accepted; the start may even have reached
      // the server. Never undo the row: the resume loop starts it (idempotently) once Temporal answers.
      log.warn({ err, partnerId: row.id }, 'workflow start failed; the resume loop will start it');
    }
  };
  /** The answer to a repeated request: the original partner and token, in its state now. */
  const replay = async (ref: IdempotencyRef): Promise<SubmissionAccepted | undefined> => {
    const seen = await findIdempotent(deps.db, ref);
    if (!seen) return undefined;
    if (seen.body_hash !== ref.bodyHash) throw problems.unprocessable('Idempotency-Key was already used with a different body');
    const row = await findPartner(deps.db, seen.partner_id);
    if (!row) return undefined;
    // The first attempt's start may have failed: start it, but only if no run ever touched it.
    if (isUnstarted(row)) await startOrLeaveToResume(row);
    return { ...openIdempotentResponse<SubmissionAccepted>(deps.pickupKey, seen, ref), state: row.state };
  };

  if (idempotency) {
    const answer = await replay(idempotency);
    if (answer) return answer;
  }

  const policy = deps.policy();
  const unknown = body.scopes.filter((scope) => !policy.scopes[scope]);
  if (unknown.length > 0) throw problems.unprocessable(`unknown scopes: ${unknown.join(', ')}`);
  await assertSponsorable(deps, body.sponsor);
  if (submitter.requestedBy === `operator:${body.sponsor}`) throw problems.unprocessable('the requester cannot be the sponsor');

  const envPolicy = policy.environments[body.environment];
  const now = Date.now();
  const maxUntil = now + envPolicy.maxAccess;
  const accessUntilMs = body.accessUntil ? Date.parse(body.accessUntil) : maxUntil;
  if (accessUntilMs <= now) throw problems.unprocessable('accessUntil must be in the future');
  if (accessUntilMs > maxUntil) throw problems.unprocessable(`accessUntil is beyond the policy maximum (${new Date(maxUntil).toISOString()})`);

  const partnerId = randomBase62(16);
  const requestToken = generateOpaqueToken('prt');
  const submittedAt = new Date(now).toISOString();
  const response: SubmissionAccepted = { partnerId, requestToken, state: 'pending_approval' };
  const row: PartnerRow = {
    id: partnerId,
    name: body.name,
    contact_email: body.contactEmail,
    sponsor: body.sponsor,
    requested_by: submitter.requestedBy,
    environment: body.environment,
    scopes: JSON.stringify([...new Set(body.scopes)]),
    justification: body.justification,
    state: 'pending_approval',
    stage: 'sponsor',
    escalated: 0,
    access_until: new Date(accessUntilMs).toISOString(),
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
    erased_at: null,
    suspended_by: null,
    transition_seq: 0,
    created_at: submittedAt,
    updated_at: submittedAt,
  };

  const claim = idempotency && idempotencyClaim(deps.pickupKey, idempotency, { partnerId, response, at: submittedAt });
  if (!(await recordSubmission(deps.db, row, claim))) {
    // a concurrent request with the same key got there first
    const answer = idempotency && (await replay(idempotency));
    if (answer) return answer;
    throw problems.unavailable('a request with the same Idempotency-Key is being recorded; retry', 1);
  }
  await startOrLeaveToResume(row);
  log.info({ partnerId, requestedBy: submitter.requestedBy, environment: body.environment }, 'partner submitted');
  return response;
}
