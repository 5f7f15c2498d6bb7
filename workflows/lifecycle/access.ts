/**
 * The access phase: the partner is active, due for recertification, or suspended. Commands
 * (extension, its decision, recertification, offboarding, key rotation) and deadlines (access end,
 * warnings, key retirement, the recertification cycle) are served one at a time until the partner
 * ends or a recertification cycle completes (the run then continues as new).
 */
import { patched, workflowInfo } from '@temporalio/workflow';
import {
  actorLabel,
  terminalStates,
  type DecisionInput,
  type ExtensionInput,
  type OffboardingInput,
  type RecertificationInput,
  type RotationInput,
} from '../messages.js';
import { checkDecision, checkExtension, checkOffboarding, checkRecertification, checkRecertificationDrift, checkRotation, isSecurityAnswer } from '../rules.js';
import type { DriftFinding } from '../../domain/policy-drift.js';
import { reviewDriftOf, withReviewFacts, type ReviewDrift } from '../review-opening.js';
import { agenda, grantDriftUnder, heldStages, nextItem, recertificationDueAtMs, requiredStages, type AgendaItem, type LifecyclePolicy } from '../state.js';
import type { UsageEvidence } from '../../domain/lifecycle-records.js';
import { iso, type Lifecycle, type QueuedCommand } from './context.js';
import { changeRateTier, changeSponsor, resume, suspend } from './governance.js';

/** The extension cap counts from the grant's approval (before: from now). */
const EXTENSION_CAP_FROM_GRANT = 'extension-cap-from-grant';
/** An extension of a grant that needs security approval goes to security after the sponsor (before: the sponsor's word was final). */
const EXTENSION_SECURITY_STAGE = 'extension-security-stage';
/** A recertification answer is held against the policy loaded for it, and refused on drift (before: kept unchecked). */
const RECERT_DRIFT_CHECK = 'recert-drift-check';
/** A review opens with today's policy loaded, and its notice carries the grant's drift (before: the usage evidence only). */
const RECERT_DRIFT_EVIDENCE = 'recert-drift-evidence';
/** A review opens with its evidence and today's policy read in one local activity (before: two, one after the other). */
const REVIEW_OPENS_IN_ONE_READ = 'review-opens-in-one-read';
/** An answer to a review reads its evidence and today's policy in one local activity (before: two, one after the other). */
const ANSWER_READS_ONCE = 'recert-answer-reads-once';

/** `continue`: a recertification cycle completed (or history grew long) with nothing left queued. */
export async function accessPhase(lc: Lifecycle): Promise<'ended' | 'continue'> {
  const s = lc.s;
  let cycleEnded = false;
  while (!terminalStates.includes(s.state)) {
    if (s.revocation) {
      await lc.revoke();
      return 'ended';
    }
    const due = nextItem(agenda(s));
    if (due && due.atMs <= Date.now()) {
      await lc.step(() => onAccessDeadline(lc, due));
      continue;
    }
    const woke = await lc.waitForWork(due);
    if (s.revocation) continue;
    if (woke) {
      const next = lc.takeCommand();
      await lc.step(async () => {
        if (await onAccessCommand(lc, next)) cycleEnded = true;
      }, next.id);
    } else if (due) {
      await lc.step(() => onAccessDeadline(lc, due));
    }
    // A new run starts with an empty queue: commands that arrived with the cycle's answer
    // (an offboarding beside the keep) are served in this run first, or they would wait forever.
    const idle = !lc.hasQueuedCommands && !terminalStates.includes(s.state) && !s.revocation;
    if (idle && (cycleEnded || workflowInfo().continueAsNewSuggested)) return 'continue';
  }
  return 'ended';
}

/** Re-checks the command's rule at dequeue, then serves it. True when a recertification cycle completed. */
async function onAccessCommand(lc: Lifecycle, { id, command }: QueuedCommand): Promise<boolean> {
  const s = lc.s;
  const now = Date.now();
  switch (command.kind) {
    case 'decide': {
      const problem = checkDecision(s, command.input, now);
      return problem ? lc.refuse(id, problem) : decideExtension(lc, id, command.input, now);
    }
    case 'recertify': {
      const problem = checkRecertification(s, command.input);
      return problem ? lc.refuse(id, problem) : recertify(lc, id, command.input);
    }
    case 'extension': {
      // The rule decides which commands follow, so a workflow that served an extension under the
      // old rule (the cap counted from now) must replay it under that rule.
      const problem = checkExtension(s, command.input, now, patched(EXTENSION_CAP_FROM_GRANT) ? 'grant' : 'now');
      return problem ? lc.refuse(id, problem) : requestExtension(lc, id, command.input, now);
    }
    case 'offboarding': {
      const problem = checkOffboarding(s, command.input, now);
      return problem ? lc.refuse(id, problem) : planOffboarding(lc, id, command.input, now);
    }
    case 'rotation': {
      const problem = checkRotation(s, command.input);
      return problem ? lc.refuse(id, problem) : rotateCredential(lc, id, command.input, now);
    }
    case 'suspend':
      return suspend(lc, id, command.input);
    case 'resume':
      return resume(lc, id, command.input);
    case 'sponsor':
      return changeSponsor(lc, id, command.input);
    case 'rateTier':
      return changeRateTier(lc, id, command.input);
  }
}

async function decideExtension(lc: Lifecycle, id: number, d: DecisionInput, now: number): Promise<false> {
  const s = lc.s;
  const ext = s.pendingExtension!;
  const by = actorLabel(d.actor);
  // The sponsor's approval is the last word only where the grant needs no security approval (the
  // environment's securityApproval rule, as at approval). The rule decides which commands follow,
  // so a workflow that served a sponsor's approval without it replays it so.
  const needsSecurity = d.decision === 'approve' && (ext.stage ?? 'sponsor') === 'sponsor' && requiredStages(s.policy!, s.scopes).includes('security');
  if (needsSecurity && patched(EXTENSION_SECURITY_STAGE)) return openExtensionSecurityStage(lc, id, d, by);
  s.pendingExtension = null;
  const decision = { kind: 'extension' as const, stage: ext.stage ?? null, decision: d.decision, reason: d.reason, accessUntil: d.accessUntil };
  if (d.decision === 'approve') {
    s.accessUntilMs = d.accessUntil ? Date.parse(d.accessUntil) : ext.accessUntilMs;
    s.accessWindowSetAtMs = now;
    for (const c of s.credentials) c.expiresAtMs = c.retireAtMs ?? s.accessUntilMs;
  }
  const notice = { kind: `extension.${d.decision === 'approve' ? 'approved' : 'rejected'}`, recipients: ['partner'], message: `Extension ${d.decision}d: ${d.reason}`, data: { accessUntil: iso(s.accessUntilMs) } };
  if (d.decision === 'approve') {
    await lc.transition('extension.approved', s.state, {
      actor: by,
      reason: d.reason,
      decision,
      credentialsExpireAt: iso(s.accessUntilMs),
      patch: { accessUntil: iso(s.accessUntilMs), pendingExtension: null },
      notice,
    });
  } else {
    await lc.transition('extension.rejected', s.state, { actor: by, reason: d.reason, decision, patch: { pendingExtension: null }, notice });
  }
  lc.settle(id, { ok: lc.commandResult({ accessUntil: iso(s.accessUntilMs) }) });
  return false;
}

/** The sponsor approved an extension of a grant that needs security: security decides it next. */
async function openExtensionSecurityStage(lc: Lifecycle, id: number, d: DecisionInput, by: string): Promise<false> {
  const s = lc.s;
  const ext = s.pendingExtension!;
  // the sponsor may have shortened it; security decides that end, or an earlier one
  const accessUntilMs = d.accessUntil ? Date.parse(d.accessUntil) : ext.accessUntilMs;
  s.pendingExtension = { ...ext, accessUntilMs, stage: 'security', approvedBy: by };
  const accessUntil = iso(accessUntilMs);
  await lc.transition('extension.sponsor_approved', s.state, {
    actor: by,
    reason: d.reason,
    decision: { kind: 'extension', stage: 'sponsor', decision: 'approve', reason: d.reason, accessUntil },
    patch: { pendingExtension: { accessUntil, reason: ext.reason, requestedAt: iso(ext.requestedAtMs), stage: 'security', approvedBy: by } },
    notice: { kind: 'extension.security_requested', recipients: ['role:security'], message: `Extension to ${accessUntil} approved by the sponsor; security approval needed`, data: { accessUntil } },
  });
  lc.settle(id, { ok: lc.commandResult() });
  return false;
}

/**
 * The answer to a recertification (the sponsor's, or security's): revoke ends the partner; keep or
 * narrow starts the next cycle, held first against today's policy, which is loaded here and recorded
 * as the version the grant was checked against. True when the cycle completed.
 */
async function recertify(lc: Lifecycle, id: number, r: RecertificationInput): Promise<boolean> {
  const s = lc.s;
  const by = actorLabel(r.actor);
  // The reads decide which commands follow, so a workflow that read them one after the other replays so.
  const facts = patched(ANSWER_READS_ONCE) ? await lc.reviewFacts() : undefined;
  const evidence = facts?.evidence ?? (await lc.usageEvidence());
  const recertification = { cycle: s.cycle, decision: r.decision, reason: r.reason, scopes: r.scopes, evidence };
  if (r.decision === 'revoke') {
    await lc.transition('recertification.revoked', s.state, { actor: by, reason: r.reason, recertification });
    await lc.end('offboarded', 'partner.offboarded', `recertification revoked: ${r.reason}`, by, true);
    lc.settle(id, { ok: lc.commandResult() });
    return true;
  }
  // the answer's time, taken where it always was (before the policy is loaded), so a replay agrees
  const answeredAtMs = Date.now();
  const today = facts?.policy ?? (await lc.loadPolicy());
  // The check decides whether a transition follows, so a workflow that kept a grant unchecked replays so.
  const checked = patched(RECERT_DRIFT_CHECK);
  let held: { drift: DriftFinding[]; securityStage?: string } | undefined;
  if (checked) {
    s.reviewPolicy = today; // the validator holds the next answer against it
    const problem = checkRecertificationDrift(s, r, today);
    if (problem) return lc.refuse(id, problem);
    const scopes = r.decision === 'narrow' ? [...new Set(r.scopes!)] : s.scopes;
    // a security operator's answer is the security stage the grant lacked, recorded as a decision of that stage
    const securityStage = isSecurityAnswer(s, r.actor) && !heldStages(s).includes('security') ? by : undefined;
    if (securityStage) s.securityKeptBy = securityStage;
    // what today's policy still finds and the answer kept knowingly (an end beyond maxAccess, a tier no longer offered)
    held = { drift: grantDriftUnder(s, today, scopes), ...(securityStage ? { securityStage } : {}) };
  }
  const wasSuspended = s.state === 'suspended';
  if (r.decision === 'narrow') s.scopes = [...new Set(r.scopes!)];
  s.cycle += 1;
  s.certifiedAtMs = answeredAtMs;
  s.suspendedAtMs = null;
  s.policy = today;
  s.reviewPolicy = null;
  await lc.transition(wasSuspended ? 'partner.reactivated' : `recertification.${r.decision === 'keep' ? 'kept' : 'narrowed'}`, 'active', {
    actor: by,
    reason: r.reason,
    recertification,
    ...(held?.securityStage
      ? { decision: { kind: 'recertification' as const, stage: 'security', decision: r.decision, reason: r.reason, ...(r.scopes ? { scopes: s.scopes } : {}) } }
      : {}),
    ...(held ? { details: held } : {}),
    patch: { scopes: s.scopes, recertCycle: s.cycle, lastCertifiedAt: iso(s.certifiedAtMs), policyVersion: s.policy.version },
  });
  lc.settle(id, { ok: lc.commandResult() });
  return true;
}

async function requestExtension(lc: Lifecycle, id: number, e: ExtensionInput, now: number): Promise<false> {
  const s = lc.s;
  s.pendingExtension = { accessUntilMs: Date.parse(e.accessUntil), reason: e.reason, requestedAtMs: now };
  await lc.transition('extension.requested', s.state, {
    actor: actorLabel(e.actor),
    reason: e.reason,
    patch: { pendingExtension: { accessUntil: e.accessUntil, reason: e.reason, requestedAt: iso(now) } },
    notice: { kind: 'extension.requested', recipients: [`operator:${s.sponsor}`], message: `Extension requested to ${e.accessUntil}`, data: { accessUntil: e.accessUntil } },
  });
  lc.settle(id, { ok: lc.commandResult() });
  return false;
}

/** Offboards now, or plans it for a later time (the agenda then carries it). */
async function planOffboarding(lc: Lifecycle, id: number, o: OffboardingInput, now: number): Promise<false> {
  const s = lc.s;
  const atMs = o.at === undefined ? now : Math.max(now, Date.parse(o.at));
  const by = actorLabel(o.actor);
  if (atMs <= now) {
    await lc.end('offboarded', 'partner.offboarded', o.reason, by);
  } else {
    s.plannedOffboarding = { atMs, reason: o.reason, by };
    await lc.transition('offboarding.planned', s.state, {
      actor: by,
      reason: o.reason,
      patch: { plannedOffboarding: { at: iso(atMs), reason: o.reason, by } },
      notice: { kind: 'offboarding.planned', recipients: ['partner', `operator:${s.sponsor}`], message: `Offboarding planned at ${iso(atMs)}`, data: { at: iso(atMs) } },
    });
  }
  lc.settle(id, { ok: lc.commandResult() });
  return false;
}

/** Issues the next key; the current one keeps working for the policy's overlap, then is retired. */
async function rotateCredential(lc: Lifecycle, id: number, r: RotationInput, now: number): Promise<false> {
  const s = lc.s;
  const old = s.credentials.find((c) => c.keyId === r.currentKeyId)!;
  const by = actorLabel(r.actor);
  const issued = await lc.issueKey('rotation', by);
  old.retireAtMs = Math.min(now + s.policy!.rotationOverlapMs, old.expiresAtMs);
  await lc.transition('credential.rotated', s.state, {
    actor: by,
    retireKey: { keyId: old.keyId, retireAt: iso(old.retireAtMs) },
    details: { newKeyId: issued.keyId, oldKeyId: old.keyId, retireAt: iso(old.retireAtMs) },
  });
  lc.settle(id, {
    ok: lc.commandResult({
      issued: { keyId: issued.keyId, expiresAt: issued.expiresAt },
      retiring: { keyId: old.keyId, retireAt: iso(old.retireAtMs) },
    }),
  });
  return false;
}

async function onAccessDeadline(lc: Lifecycle, item: AgendaItem): Promise<void> {
  const s = lc.s;
  s.done.push(item.key);
  const p = s.policy!;
  switch (item.kind) {
    case 'access_end':
      return lc.end('offboarded', 'partner.offboarded', 'access end date reached');
    case 'planned_offboarding': {
      const planned = s.plannedOffboarding!;
      return lc.end('offboarded', 'partner.offboarded', planned.reason, planned.by);
    }
    case 'expiry_warning':
      return lc.notify('access.expiry_warning', ['partner', `operator:${s.sponsor}`], `Access ends at ${iso(s.accessUntilMs)}`, {
        accessUntil: iso(s.accessUntilMs),
      });
    case 'credential_retirement': {
      const keyId = item.ref!;
      s.credentials = s.credentials.filter((c) => c.keyId !== keyId);
      await lc.transition('credential.retired', s.state, { revokeKeys: { keyIds: [keyId], reason: 'rotated' }, details: { keyId } });
      return;
    }
    case 'extension_request_expires':
      s.pendingExtension = null;
      return lc.transition('extension.expired', s.state, {
        patch: { pendingExtension: null },
        notice: { kind: 'extension.expired', recipients: ['partner'], message: 'Your extension request was not decided in time' },
      });
    case 'recertification_opens': {
      const dueAt = iso(recertificationDueAtMs(s, p));
      // completed with the facts read as the review opens (workflows/review-opening.ts)
      const opening = {
        details: { cycle: s.cycle, dueAt },
        notice: { kind: 'recertification.due', recipients: [`operator:${s.sponsor}`], message: `Recertification due by ${dueAt}`, data: { cycle: s.cycle, dueAt } },
      };
      if (lc.opensReviewInOneStep()) {
        await lc.openReview(opening);
        return;
      }
      const { evidence, drift } = await reviewOpening(lc);
      return lc.transition('recertification.opened', 'recertification_due', withReviewFacts(opening, evidence, drift));
    }
    case 'recertification_reminder':
      return lc.notify('recertification.reminder', [`operator:${s.sponsor}`], 'Reminder: recertification due', {
        cycle: s.cycle,
        dueAt: iso(recertificationDueAtMs(s, p)),
      });
    case 'recertification_no_answer':
      if (p.noAnswer === 'offboard') return lc.end('offboarded', 'partner.offboarded', 'recertification not answered');
      s.suspendedAtMs = Date.now();
      return lc.transition('partner.suspended', 'suspended', {
        reason: 'recertification not answered',
        details: { cycle: s.cycle },
        notice: {
          kind: 'partner.suspended',
          recipients: ['partner', `operator:${s.sponsor}`],
          message: 'Access suspended: recertification not answered',
          data: { offboardAt: iso(s.suspendedAtMs + p.suspendedGraceMs) },
        },
      });
    case 'suspension_grace_over':
      return lc.end('offboarded', 'partner.offboarded', 'recertification not answered within the suspension grace');
    default:
      return;
  }
}

/**
 * What a review opened with in runs recorded before it opened in one step (`Lifecycle.openReview`):
 * the usage evidence, and the grant against today's policy, which the answer's validator then
 * holds it to. The reads decide which commands follow, so a workflow that read them one after the
 * other (or read no policy at all) replays so.
 */
async function reviewOpening(lc: Lifecycle): Promise<{ evidence: UsageEvidence; drift?: ReviewDrift }> {
  if (patched(REVIEW_OPENS_IN_ONE_READ)) {
    const { evidence, policy } = await lc.reviewFacts();
    return { evidence, drift: holdReviewTo(lc, policy) };
  }
  const evidence = await lc.usageEvidence();
  return { evidence, drift: patched(RECERT_DRIFT_EVIDENCE) ? holdReviewTo(lc, await lc.loadPolicy()) : undefined };
}

/** Keeps today's policy for the review that opens and says what it would not grant of this grant. */
function holdReviewTo(lc: Lifecycle, today: LifecyclePolicy): ReviewDrift {
  lc.s.reviewPolicy = today;
  return reviewDriftOf(lc.s, today);
}
