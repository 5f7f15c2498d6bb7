/**
 * One partner, one durable workflow: approval stages → credential issuance → recertification
 * cycles → offboarding, with emergency revocation from any state. Deterministic code only: all
 * I/O is in activities, all time is workflow time.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { partnerFacingEndReason, reasonAuthor, type Ending } from '../domain/partner-facing.js';
import type { createActivities } from '../activities/index.js';
import type { PartnerEndedFailure, ReadModelPatch, TransitionRecord } from '../activities/types.js';
import {
  actorLabel,
  decideUpdate,
  emergencyRevokeSignal,
  FailureTypes,
  planOffboardingUpdate,
  recertifyUpdate,
  requestExtensionUpdate,
  rotateCredentialUpdate,
  statusQuery,
  terminalStates,
  type CommandResult,
  type DecisionInput,
  type ExtensionInput,
  type OffboardingInput,
  type PartnerState,
  type RecertificationInput,
  type RotationInput,
  type Submission,
} from './messages.js';
import { checkDecision, checkExtension, checkOffboarding, checkRecertification, checkRotation, type Rejection } from './rules.js';
import {
  agenda,
  initialState,
  nextDeadline,
  nextItem,
  requiredStages,
  statusOf,
  type AgendaItem,
  type LifecycleState,
} from './state.js';

type Activities = ReturnType<typeof createActivities>;

// Record keeping must not be lost to a passing database fault: generous but bounded retries.
const records = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '200 ms', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 200 },
});
// A notice that cannot be delivered is marked failed in the outbox; it never stalls the lifecycle.
const notices = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 4 },
});

export interface LifecycleInput {
  partnerId: string;
  submission: Submission;
  /** set on continue-as-new: the whole current state, nothing else */
  carried?: LifecycleState;
}

export interface LifecycleOutcome {
  state: PartnerState;
  reason: string | null;
}

type Command =
  | { kind: 'decide'; input: DecisionInput }
  | { kind: 'recertify'; input: RecertificationInput }
  | { kind: 'extension'; input: ExtensionInput }
  | { kind: 'offboarding'; input: OffboardingInput }
  | { kind: 'rotation'; input: RotationInput };

interface QueuedCommand {
  id: number;
  command: Command;
}

/** Waits for `fn` or the deadline; true when `fn` became true. (`condition` without a timeout resolves to void.) */
async function waitFor(fn: () => boolean, timeoutMs: number | undefined): Promise<boolean> {
  if (timeoutMs === undefined) {
    await condition(fn);
    return true;
  }
  return condition(fn, timeoutMs);
}

const failure = (r: Rejection) => ApplicationFailure.create({ type: r.type, message: r.message, nonRetryable: true });
const iso = (ms: number) => new Date(ms).toISOString();
const SYSTEM = 'system:lifecycle';
/** The answer to a command that an emergency revocation overtook. */
const overtakenByRevocation: Rejection = { type: FailureTypes.notAllowedInState, message: 'the partner was revoked' };
const partnerEnded: PartnerEndedFailure = 'PartnerEnded';
/** Workflows that ran before the revocation was adopted from the database replay without it. */
const ADOPT_REVOCATION_PATCH = 'adopt-revocation-from-database';

/**
 * Raised inside the workflow when the database shows the partner revoked by the API under the
 * step in progress. It never leaves the workflow: `step` catches it, answers the command in
 * flight, and the main loop finishes the revocation.
 */
class RevokedUnderStep extends Error {}

export async function partnerLifecycle(input: LifecycleInput): Promise<LifecycleOutcome> {
  const s: LifecycleState = input.carried ?? initialState(input.partnerId, input.submission, Date.now());
  const queue: QueuedCommand[] = [];
  const results = new Map<number, { ok: CommandResult } | { error: Rejection }>();
  let nextCommandId = 1;

  // ---- handlers: registered before the first await; they queue, the main loop acts ----
  const enqueue = async (command: Command): Promise<CommandResult> => {
    const id = nextCommandId++;
    queue.push({ id, command });
    await condition(() => results.has(id));
    const result = results.get(id)!;
    results.delete(id);
    if ('error' in result) throw failure(result.error);
    return result.ok;
  };
  const validator = (rejection: Rejection | null) => {
    if (s.revocation) throw failure(overtakenByRevocation);
    if (rejection) throw failure(rejection);
  };
  setHandler(statusQuery, () => statusOf(s));
  setHandler(decideUpdate, (d) => enqueue({ kind: 'decide', input: d }), {
    validator: (d) => validator(checkDecision(s, d, Date.now())),
  });
  setHandler(recertifyUpdate, (r) => enqueue({ kind: 'recertify', input: r }), {
    validator: (r) => validator(checkRecertification(s, r)),
  });
  setHandler(requestExtensionUpdate, (e) => enqueue({ kind: 'extension', input: e }), {
    validator: (e) => validator(checkExtension(s, e, Date.now())),
  });
  setHandler(planOffboardingUpdate, (o) => enqueue({ kind: 'offboarding', input: o }), {
    validator: (o) => validator(checkOffboarding(s, o, Date.now())),
  });
  setHandler(rotateCredentialUpdate, (r) => enqueue({ kind: 'rotation', input: r }), {
    validator: (r) => validator(checkRotation(s, r)),
  });
  setHandler(emergencyRevokeSignal, (r) => {
    s.revocation ??= r;
  });

  // ---- effects ----
  const commandResult = (extra: Partial<CommandResult> = {}): CommandResult => ({
    state: s.state,
    stage: s.state === 'pending_approval' ? s.stage : null,
    ...extra,
  });

  /** Writes one transition to the read model and the audit trail, idempotently by sequence. */
  async function transition(
    action: string,
    to: PartnerState,
    opts: Omit<TransitionRecord, 'partnerId' | 'seq' | 'at' | 'action' | 'from' | 'to' | 'actor' | 'patch'> & {
      actor?: string;
      patch?: ReadModelPatch;
    } = {},
  ): Promise<void> {
    const from = s.state;
    s.state = to;
    s.seq += 1;
    const { actor, patch, ...rest } = opts;
    const written = await records.applyTransition({
      partnerId: s.partnerId,
      seq: s.seq,
      at: iso(Date.now()),
      actor: actor ?? SYSTEM,
      action,
      from,
      to,
      ...rest,
      patch: { state: to, stage: to === 'pending_approval' ? s.stage : null, ...patch, nextDeadline: nextDeadline(s) },
    });
    if (written.state === 'revoked' && to !== 'revoked' && patched(ADOPT_REVOCATION_PATCH)) {
      s.state = from; // nothing was written: the partner is where it was when the API revoked it
      throw await revokedUnderStep();
    }
  }

  /**
   * The database is the source of truth for an emergency revocation; the signal is only the
   * wake-up, and an API that dies between its commit and the signal sends none. So when an
   * activity finds the partner revoked, the workflow takes the revocation from its record (reason,
   * actor, time) as if the signal had come, and the step in progress stops.
   */
  async function revokedUnderStep(): Promise<RevokedUnderStep> {
    s.revocation ??= (await records.recordedRevocation(s.partnerId)) ?? {
      reason: 'revoked in the database',
      actor: { kind: 'system', name: 'database' },
      at: iso(Date.now()),
    };
    return new RevokedUnderStep();
  }

  /**
   * Runs one step of the lifecycle. When a revocation overtakes it, the command in flight is
   * answered `the partner was revoked` (every command path answers last, so it has not been yet)
   * and the caller's loop finishes the revocation.
   */
  async function step(work: () => Promise<unknown>, commandId?: number): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (!(err instanceof RevokedUnderStep)) throw err;
      if (commandId !== undefined) settle(commandId, { error: overtakenByRevocation });
    }
  }

  async function notify(kind: string, recipients: string[], message: string, data?: Record<string, unknown>) {
    s.notices += 1;
    try {
      await notices.notify({ id: `${s.partnerId}:n${s.notices}`, partnerId: s.partnerId, kind, recipients, message, data });
    } catch {
      // the outbox row records the failure; the lifecycle goes on
    }
  }

  const stageRecipients = (alternates: boolean): string[] =>
    s.stage === 'security' ? ['role:security'] : alternates ? [`operator:${s.sponsor}`, 'role:approver'] : [`operator:${s.sponsor}`];

  async function issueKey(purpose: 'approval' | 'rotation', actor: string) {
    s.credentialVersion += 1;
    const issued = await records
      .issueCredential({
        partnerId: s.partnerId,
        version: s.credentialVersion,
        environment: s.environment,
        expiresAt: iso(s.accessUntilMs),
        actor,
        purpose,
      })
      .catch(async (err: unknown) => {
        // refused because the row ended under us: the API's revocation committed first
        const ended = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === partnerEnded;
        if (ended && patched(ADOPT_REVOCATION_PATCH)) throw await revokedUnderStep();
        throw err;
      });
    s.credentials.push({ keyId: issued.keyId, version: s.credentialVersion, expiresAtMs: Date.parse(issued.expiresAt) });
    return issued;
  }

  /** `notRenewed`: the sponsor answered `revoke` at recertification (the partner reads a neutral sentence). */
  async function end(to: Ending, action: string, reason: string, actor?: string, notRenewed = false) {
    s.endReason = reason;
    s.credentials = [];
    s.pendingExtension = null;
    s.plannedOffboarding = null;
    await transition(action, to, {
      actor,
      reason,
      patch: { endReason: reason, endedAt: iso(Date.now()), pendingExtension: null, plannedOffboarding: null },
      revokeKeys: { reason },
    });
    // The notice goes to the partner too: it carries the reason as the partner may read it.
    const told = partnerFacingEndReason(to, reason, reasonAuthor(actor, s.partnerId, s.sponsor), notRenewed);
    await notify(`partner.${to}`, ['partner', `operator:${s.sponsor}`], `Access ${to.replace('_', ' ')}: ${told}`);
  }

  async function revoke(): Promise<void> {
    const r = s.revocation!;
    await end('revoked', 'partner.revoked', r.reason, actorLabel(r.actor));
    // Verified revocation: the gateway must refuse every key now; security hears if it does not.
    const verification = await records.verifyRevocation(s.partnerId);
    if (verification && !verification.verified) {
      await notify('revocation.verification_failed', ['role:security'], 'A revoked key was not refused by the gateway', {
        keys: verification.keys,
      });
    }
  }

  function settle(id: number, outcome: { ok: CommandResult } | { error: Rejection }) {
    results.set(id, outcome);
  }
  function refuse(id: number, problem: Rejection): false {
    settle(id, { error: problem });
    return false;
  }

  /** Rejects every queued command: used when the lifecycle ends under them. */
  function drainQueue(message: string) {
    for (const { id } of queue.splice(0)) {
      settle(id, { error: { type: 'NotAllowedInState', message } });
    }
  }

  // ---- approval ----
  async function approval(): Promise<void> {
    await step(async () => {
      const policy = await records.loadPolicy(s.environment);
      s.policy = policy;
      s.stages = requiredStages(policy, s.scopes);
      s.stageOpenedAtMs = Date.now();
      await transition('partner.submitted', 'pending_approval', {
        // every audit event names its actor: a self-service request is the partner's own
        actor: s.requestedBy === 'partner' ? `partner:${s.partnerId}` : s.requestedBy,
        patch: { policyVersion: policy.version, scopes: s.scopes, accessUntil: iso(s.accessUntilMs) },
        details: { stages: s.stages },
      });
      await notify('approval.requested', stageRecipients(false), `Approval needed (stage ${s.stage})`, { stage: s.stage });
    });

    while (s.state === 'pending_approval') {
      if (s.revocation) return revoke();
      // Overdue deadlines come first (a worker back from an outage fires them in time order).
      const due = nextItem(agenda(s));
      if (due && due.atMs <= Date.now()) {
        await step(() => handleApprovalDeadline(due));
        continue;
      }
      const woke = await waitFor(() => queue.length > 0 || s.revocation !== null, due ? due.atMs - Date.now() : undefined);
      if (s.revocation) return revoke();
      if (woke) {
        const next = queue.shift()!;
        await step(() => handleApprovalCommand(next), next.id);
      } else if (due) await step(() => handleApprovalDeadline(due));
    }
  }

  async function handleApprovalCommand({ id, command }: QueuedCommand) {
    if (command.kind !== 'decide') {
      return settle(id, { error: { type: 'NotAllowedInState', message: 'the request is still waiting for approval' } });
    }
    const d = command.input;
    const problem = checkDecision(s, d, Date.now());
    if (problem) return settle(id, { error: problem });
    const by = actorLabel(d.actor);
    const stage = s.stage!;
    const decision = { kind: 'approval' as const, stage, decision: d.decision, reason: d.reason, scopes: d.scopes, accessUntil: d.accessUntil };

    if (d.decision === 'reject') {
      s.endReason = d.reason;
      await end('rejected', 'approval.rejected', d.reason, by);
      return settle(id, { ok: commandResult() });
    }
    if (d.scopes) s.scopes = [...new Set(d.scopes)];
    if (d.accessUntil) s.accessUntilMs = Date.parse(d.accessUntil);
    s.approvedBy.push(by);
    const nextStage = s.stages[s.stages.indexOf(stage) + 1];
    if (nextStage) {
      s.stage = nextStage;
      s.stageOpenedAtMs = Date.now();
      s.escalated = false;
      await transition('approval.granted', 'pending_approval', {
        actor: by,
        reason: d.reason,
        decision,
        patch: { scopes: s.scopes, accessUntil: iso(s.accessUntilMs), escalated: false },
      });
      await notify('approval.requested', stageRecipients(false), `Approval needed (stage ${s.stage})`, { stage: s.stage });
      return settle(id, { ok: commandResult() });
    }
    // Last stage: record the approval, issue the key, then open access.
    await transition('approval.granted', 'pending_approval', {
      actor: by,
      reason: d.reason,
      decision,
      patch: { scopes: s.scopes, accessUntil: iso(s.accessUntilMs) },
    });
    // the signal came while the approval was written: the loop finishes the revocation
    if (s.revocation) return settle(id, { error: overtakenByRevocation });
    const issued = await issueKey('approval', by);
    s.stage = null;
    s.certifiedAtMs = Date.now();
    s.accessWindowSetAtMs = Date.now();
    await transition('partner.activated', 'active', {
      actor: by,
      patch: { lastCertifiedAt: iso(s.certifiedAtMs), escalated: false },
      details: { keyId: issued.keyId, prefix: issued.prefix, expiresAt: issued.expiresAt },
    });
    await notify('credential.ready', ['partner'], 'Your API key is ready for pickup', { keyId: issued.keyId });
    settle(id, { ok: commandResult({ issued: { keyId: issued.keyId, expiresAt: issued.expiresAt }, accessUntil: iso(s.accessUntilMs) }) });
  }

  async function handleApprovalDeadline(item: AgendaItem) {
    s.done.push(item.key);
    if (item.kind === 'approval_reminder') {
      await notify('approval.reminder', stageRecipients(s.escalated), `Reminder: approval needed (stage ${s.stage})`, { stage: s.stage });
    } else if (item.kind === 'approval_escalation') {
      s.escalated = true;
      await transition('approval.escalated', 'pending_approval', { patch: { escalated: true }, details: { stage: s.stage } });
      await notify('approval.escalated', stageRecipients(true), `Escalated: approval overdue (stage ${s.stage})`, { stage: s.stage });
    } else if (item.kind === 'approval_timeout') {
      await end('request_expired', 'approval.expired', `no decision within the approval timeout (stage ${s.stage})`);
    }
  }

  // ---- access: active, recertification due, suspended ----
  async function access(): Promise<'ended' | 'continue'> {
    let cycleEnded = false;
    while (!terminalStates.includes(s.state)) {
      if (s.revocation) {
        await revoke();
        return 'ended';
      }
      const due = nextItem(agenda(s));
      if (due && due.atMs <= Date.now()) {
        await step(() => handleAccessDeadline(due));
        continue;
      }
      const woke = await waitFor(() => queue.length > 0 || s.revocation !== null, due ? due.atMs - Date.now() : undefined);
      if (s.revocation) continue;
      if (woke) {
        const next = queue.shift()!;
        await step(async () => {
          if (await handleAccessCommand(next)) cycleEnded = true;
        }, next.id);
      } else if (due) {
        await step(() => handleAccessDeadline(due));
      }
      // A new run starts with an empty queue: commands that arrived with the cycle's answer
      // (an offboarding beside the keep) are served in this run first, or they would wait forever.
      const idle = queue.length === 0 && !terminalStates.includes(s.state) && !s.revocation;
      if (idle && (cycleEnded || workflowInfo().continueAsNewSuggested)) return 'continue';
    }
    return 'ended';
  }

  /** Returns true when a recertification cycle completed (time to continue-as-new). */
  async function handleAccessCommand({ id, command }: QueuedCommand): Promise<boolean> {
    const now = Date.now();
    switch (command.kind) {
      case 'decide': {
        const problem = checkDecision(s, command.input, now);
        if (problem) return refuse(id, problem);
        const d = command.input;
        const ext = s.pendingExtension!;
        s.pendingExtension = null;
        const by = actorLabel(d.actor);
        const decision = { kind: 'extension' as const, stage: null, decision: d.decision, reason: d.reason, accessUntil: d.accessUntil };
        if (d.decision === 'approve') {
          s.accessUntilMs = d.accessUntil ? Date.parse(d.accessUntil) : ext.accessUntilMs;
          s.accessWindowSetAtMs = now;
          for (const c of s.credentials) c.expiresAtMs = c.retireAtMs ?? s.accessUntilMs;
          await transition('extension.approved', s.state, {
            actor: by,
            reason: d.reason,
            decision,
            credentialsExpireAt: iso(s.accessUntilMs),
            patch: { accessUntil: iso(s.accessUntilMs), pendingExtension: null },
          });
        } else {
          await transition('extension.rejected', s.state, { actor: by, reason: d.reason, decision, patch: { pendingExtension: null } });
        }
        await notify(`extension.${d.decision === 'approve' ? 'approved' : 'rejected'}`, ['partner'], `Extension ${d.decision}d: ${d.reason}`, {
          accessUntil: iso(s.accessUntilMs),
        });
        settle(id, { ok: commandResult({ accessUntil: iso(s.accessUntilMs) }) });
        return false;
      }
      case 'recertify': {
        const problem = checkRecertification(s, command.input);
        if (problem) return refuse(id, problem);
        return recertify(id, command.input);
      }
      case 'extension': {
        const problem = checkExtension(s, command.input, now);
        if (problem) return refuse(id, problem);
        const e = command.input;
        s.pendingExtension = { accessUntilMs: Date.parse(e.accessUntil), reason: e.reason, requestedAtMs: now };
        await transition('extension.requested', s.state, {
          actor: actorLabel(e.actor),
          reason: e.reason,
          patch: { pendingExtension: { accessUntil: e.accessUntil, reason: e.reason, requestedAt: iso(now) } },
        });
        await notify('extension.requested', [`operator:${s.sponsor}`], `Extension requested to ${e.accessUntil}`, { accessUntil: e.accessUntil });
        settle(id, { ok: commandResult() });
        return false;
      }
      case 'offboarding': {
        const problem = checkOffboarding(s, command.input, now);
        if (problem) return refuse(id, problem);
        const o = command.input;
        const atMs = o.at === undefined ? now : Math.max(now, Date.parse(o.at));
        const by = actorLabel(o.actor);
        if (atMs <= now) {
          await end('offboarded', 'partner.offboarded', o.reason, by);
        } else {
          s.plannedOffboarding = { atMs, reason: o.reason, by };
          await transition('offboarding.planned', s.state, {
            actor: by,
            reason: o.reason,
            patch: { plannedOffboarding: { at: iso(atMs), reason: o.reason, by } },
          });
          await notify('offboarding.planned', ['partner', `operator:${s.sponsor}`], `Offboarding planned at ${iso(atMs)}`, { at: iso(atMs) });
        }
        settle(id, { ok: commandResult() });
        return false;
      }
      case 'rotation': {
        const problem = checkRotation(s, command.input);
        if (problem) return refuse(id, problem);
        const old = s.credentials.find((c) => c.keyId === command.input.currentKeyId)!;
        const by = actorLabel(command.input.actor);
        const issued = await issueKey('rotation', by);
        old.retireAtMs = Math.min(now + s.policy!.rotationOverlapMs, old.expiresAtMs);
        await transition('credential.rotated', s.state, {
          actor: by,
          retireKey: { keyId: old.keyId, retireAt: iso(old.retireAtMs) },
          details: { newKeyId: issued.keyId, oldKeyId: old.keyId, retireAt: iso(old.retireAtMs) },
        });
        settle(id, {
          ok: commandResult({
            issued: { keyId: issued.keyId, expiresAt: issued.expiresAt },
            retiring: { keyId: old.keyId, retireAt: iso(old.retireAtMs) },
          }),
        });
        return false;
      }
    }
  }

  async function recertify(id: number, r: RecertificationInput): Promise<boolean> {
    const by = actorLabel(r.actor);
    const evidence = await records.gatherUsageEvidence(s.partnerId);
    const recertification = { cycle: s.cycle, decision: r.decision, reason: r.reason, scopes: r.scopes, evidence };
    if (r.decision === 'revoke') {
      s.endReason = r.reason;
      await transition('recertification.revoked', s.state, { actor: by, reason: r.reason, recertification });
      await end('offboarded', 'partner.offboarded', `recertification revoked: ${r.reason}`, by, true);
      settle(id, { ok: commandResult() });
      return true;
    }
    const wasSuspended = s.state === 'suspended';
    if (r.decision === 'narrow') s.scopes = [...new Set(r.scopes!)];
    s.cycle += 1;
    s.certifiedAtMs = Date.now();
    s.suspendedAtMs = null;
    s.policy = await records.loadPolicy(s.environment);
    await transition(wasSuspended ? 'partner.reactivated' : `recertification.${r.decision === 'keep' ? 'kept' : 'narrowed'}`, 'active', {
      actor: by,
      reason: r.reason,
      recertification,
      patch: { scopes: s.scopes, recertCycle: s.cycle, lastCertifiedAt: iso(s.certifiedAtMs), policyVersion: s.policy.version },
    });
    settle(id, { ok: commandResult() });
    return true;
  }

  async function handleAccessDeadline(item: AgendaItem) {
    s.done.push(item.key);
    const p = s.policy!;
    switch (item.kind) {
      case 'access_end':
        return end('offboarded', 'partner.offboarded', 'access end date reached');
      case 'planned_offboarding': {
        const planned = s.plannedOffboarding!;
        return end('offboarded', 'partner.offboarded', planned.reason, planned.by);
      }
      case 'expiry_warning':
        return notify('access.expiry_warning', ['partner', `operator:${s.sponsor}`], `Access ends at ${iso(s.accessUntilMs)}`, {
          accessUntil: iso(s.accessUntilMs),
        });
      case 'credential_retirement': {
        const keyId = item.ref!;
        s.credentials = s.credentials.filter((c) => c.keyId !== keyId);
        await transition('credential.retired', s.state, { revokeKeys: { keyIds: [keyId], reason: 'rotated' }, details: { keyId } });
        return;
      }
      case 'extension_request_expires':
        s.pendingExtension = null;
        await transition('extension.expired', s.state, { patch: { pendingExtension: null } });
        return notify('extension.expired', ['partner'], 'Your extension request was not decided in time');
      case 'recertification_opens': {
        const evidence = await records.gatherUsageEvidence(s.partnerId);
        const dueAt = iso(s.certifiedAtMs + p.recertifyEveryMs);
        await transition('recertification.opened', 'recertification_due', { details: { cycle: s.cycle, dueAt } });
        return notify('recertification.due', [`operator:${s.sponsor}`], `Recertification due by ${dueAt}`, { cycle: s.cycle, dueAt, evidence });
      }
      case 'recertification_reminder':
        return notify('recertification.reminder', [`operator:${s.sponsor}`], 'Reminder: recertification due', {
          cycle: s.cycle,
          dueAt: iso(s.certifiedAtMs + p.recertifyEveryMs),
        });
      case 'recertification_no_answer':
        if (p.noAnswer === 'offboard') return end('offboarded', 'partner.offboarded', 'recertification not answered');
        s.suspendedAtMs = Date.now();
        await transition('partner.suspended', 'suspended', { reason: 'recertification not answered', details: { cycle: s.cycle } });
        return notify('partner.suspended', ['partner', `operator:${s.sponsor}`], 'Access suspended: recertification not answered', {
          offboardAt: iso(s.suspendedAtMs + p.suspendedGraceMs),
        });
      case 'suspension_grace_over':
        return end('offboarded', 'partner.offboarded', 'recertification not answered within the suspension grace');
      default:
        return;
    }
  }

  // ---- run ----
  if (!input.carried) await approval();
  if (!terminalStates.includes(s.state) && (await access()) === 'continue') {
    await condition(allHandlersFinished);
    // Only current state crosses over; finished agenda keys of past cycles are dropped.
    const live = new Set(agenda({ ...s, done: [] }).map((i) => i.key));
    s.done = s.done.filter((key) => live.has(key));
    return continueAsNew<typeof partnerLifecycle>({ partnerId: s.partnerId, submission: input.submission, carried: s });
  }
  drainQueue(`the partner's lifecycle ended (${s.state})`);
  await condition(allHandlersFinished);
  return { state: s.state, reason: s.endReason };
}
