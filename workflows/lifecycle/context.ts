/**
 * What every phase of one partner's lifecycle shares: its state, the command queue the message
 * handlers fill and the phases drain, and the effects (transition, notify, issueKey, end, revoke)
 * through which the phases write anything. Phases decide; only this class talks to activities, so
 * the revocation adopted from the database is handled in one place.
 */
import { ActivityFailure, ApplicationFailure, condition, patched, proxyActivities } from '@temporalio/workflow';
import { partnerFacingEndReason, reasonAuthor, type Ending } from '../../domain/partner-facing.js';
import type { createActivities } from '../../activities/index.js';
import type { PartnerEndedFailure, ReadModelPatch, TransitionRecord } from '../../domain/lifecycle-records.js';
import {
  actorLabel,
  FailureTypes,
  type CommandResult,
  type DecisionInput,
  type ExtensionInput,
  type OffboardingInput,
  type PartnerState,
  type RateTierInput,
  type RecertificationInput,
  type RotationInput,
  type SponsorChangeInput,
  type SuspensionInput,
} from '../messages.js';
import type { Rejection } from '../rules.js';
import { nextDeadline, type AgendaItem, type LifecycleState } from '../state.js';

type Activities = ReturnType<typeof createActivities>;

// Record keeping must not be lost to a passing database fault: generous but bounded retries.
export const records = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '200 ms', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 200 },
});
// A notice that cannot be delivered is marked failed in the outbox; it never stalls the lifecycle.
const notices = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 4 },
});

export type Command =
  | { kind: 'decide'; input: DecisionInput }
  | { kind: 'recertify'; input: RecertificationInput }
  | { kind: 'extension'; input: ExtensionInput }
  | { kind: 'offboarding'; input: OffboardingInput }
  | { kind: 'rotation'; input: RotationInput }
  | { kind: 'suspend'; input: SuspensionInput }
  | { kind: 'resume'; input: SuspensionInput }
  | { kind: 'sponsor'; input: SponsorChangeInput }
  | { kind: 'rateTier'; input: RateTierInput };

export interface QueuedCommand {
  id: number;
  command: Command;
}

export type CommandOutcome = { ok: CommandResult } | { error: Rejection };

export const failure = (r: Rejection) => ApplicationFailure.create({ type: r.type, message: r.message, nonRetryable: true });
export const iso = (ms: number) => new Date(ms).toISOString();
const SYSTEM = 'system:lifecycle';
/** The answer to a command that an emergency revocation overtook. */
export const overtakenByRevocation: Rejection = { type: FailureTypes.notAllowedInState, message: 'the partner was revoked' };
const partnerEnded: PartnerEndedFailure = 'PartnerEnded';
/** Workflows that ran before the revocation was adopted from the database replay without it. */
const ADOPT_REVOCATION_PATCH = 'adopt-revocation-from-database';

/**
 * Raised inside the workflow when the database shows the partner revoked by the API under the
 * step in progress. It never leaves the workflow: `step` catches it, answers the command in
 * flight, and the phase's loop finishes the revocation.
 */
class RevokedUnderStep extends Error {}

type TransitionOptions = Omit<TransitionRecord, 'partnerId' | 'seq' | 'at' | 'action' | 'from' | 'to' | 'actor' | 'patch'> & {
  actor?: string;
  patch?: ReadModelPatch;
};

export class Lifecycle {
  private readonly queue: QueuedCommand[] = [];
  private readonly results = new Map<number, CommandOutcome>();
  private nextCommandId = 1;

  constructor(readonly s: LifecycleState) {}

  // ---- the command queue: handlers enqueue and wait, a phase dequeues, acts and settles ----

  /** Queues a command and waits for the phase that serves it to settle it. */
  async enqueue(command: Command): Promise<CommandResult> {
    const id = this.nextCommandId++;
    this.queue.push({ id, command });
    await condition(() => this.results.has(id));
    const result = this.results.get(id)!;
    this.results.delete(id);
    if ('error' in result) throw failure(result.error);
    return result.ok;
  }

  /** An update validator's answer: a revoked partner accepts nothing, otherwise the rule's. */
  validate(rejection: Rejection | null): void {
    if (this.s.revocation) throw failure(overtakenByRevocation);
    if (rejection) throw failure(rejection);
  }

  get hasQueuedCommands(): boolean {
    return this.queue.length > 0;
  }

  /**
   * Waits until a command is queued, a revocation arrives, or the due item's time comes; true
   * when woken by a command or a revocation. (`condition` without a timeout resolves to void.)
   */
  async waitForWork(due: AgendaItem | undefined): Promise<boolean> {
    const work = () => this.queue.length > 0 || this.s.revocation !== null;
    if (!due) {
      await condition(work);
      return true;
    }
    return condition(work, due.atMs - Date.now());
  }

  takeCommand(): QueuedCommand {
    return this.queue.shift()!;
  }

  settle(id: number, outcome: CommandOutcome): void {
    this.results.set(id, outcome);
  }

  refuse(id: number, problem: Rejection): false {
    this.settle(id, { error: problem });
    return false;
  }

  /** Rejects every queued command: used when the lifecycle ends under them. */
  drainQueue(message: string): void {
    for (const { id } of this.queue.splice(0)) {
      this.settle(id, { error: { type: 'NotAllowedInState', message } });
    }
  }

  commandResult(extra: Partial<CommandResult> = {}): CommandResult {
    return { state: this.s.state, stage: this.s.state === 'pending_approval' ? this.s.stage : null, ...extra };
  }

  /**
   * Runs one step of the lifecycle. When a revocation overtakes it, the command in flight is
   * answered `the partner was revoked` (every command path answers last, so it has not been yet)
   * and the caller's loop finishes the revocation.
   */
  async step(work: () => Promise<unknown>, commandId?: number): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (!(err instanceof RevokedUnderStep)) throw err;
      if (commandId !== undefined) this.settle(commandId, { error: overtakenByRevocation });
    }
  }

  // ---- effects ----

  /** Writes one transition to the read model and the audit trail, idempotently by sequence. */
  async transition(action: string, to: PartnerState, opts: TransitionOptions = {}): Promise<void> {
    const s = this.s;
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
      ...(s.policy ? { policyVersion: s.policy.version } : {}),
      patch: { state: to, stage: to === 'pending_approval' ? s.stage : null, ...patch, nextDeadline: nextDeadline(s) },
    });
    if (written.state === 'revoked' && to !== 'revoked' && patched(ADOPT_REVOCATION_PATCH)) {
      s.state = from; // nothing was written: the partner is where it was when the API revoked it
      throw await this.revokedUnderStep();
    }
  }

  /**
   * The database is the source of truth for an emergency revocation; the signal is only the
   * wake-up, and an API that dies between its commit and the signal sends none. So when an
   * activity finds the partner revoked, the workflow takes the revocation from its record (reason,
   * actor, time) as if the signal had come, and the step in progress stops.
   */
  private async revokedUnderStep(): Promise<RevokedUnderStep> {
    this.s.revocation ??= (await records.recordedRevocation(this.s.partnerId)) ?? {
      reason: 'revoked in the database',
      actor: { kind: 'system', name: 'database' },
      at: iso(Date.now()),
    };
    return new RevokedUnderStep();
  }

  async notify(kind: string, recipients: string[], message: string, data?: Record<string, unknown>): Promise<void> {
    const s = this.s;
    s.notices += 1;
    try {
      await notices.notify({ id: `${s.partnerId}:n${s.notices}`, partnerId: s.partnerId, kind, recipients, message, data });
    } catch {
      // the outbox row records the failure; the lifecycle goes on
    }
  }

  async issueKey(purpose: 'approval' | 'rotation', actor: string) {
    const s = this.s;
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
        if (ended && patched(ADOPT_REVOCATION_PATCH)) throw await this.revokedUnderStep();
        throw err;
      });
    s.credentials.push({ keyId: issued.keyId, version: s.credentialVersion, expiresAtMs: Date.parse(issued.expiresAt) });
    return issued;
  }

  /** `notRenewed`: the sponsor answered `revoke` at recertification (the partner reads a neutral sentence). */
  async end(to: Ending, action: string, reason: string, actor?: string, notRenewed = false): Promise<void> {
    const s = this.s;
    s.endReason = reason;
    s.credentials = [];
    s.pendingExtension = null;
    s.plannedOffboarding = null;
    await this.transition(action, to, {
      actor,
      reason,
      patch: { endReason: reason, endedAt: iso(Date.now()), pendingExtension: null, plannedOffboarding: null },
      revokeKeys: { reason },
    });
    // The notice goes to the partner too: it carries the reason as the partner may read it.
    const told = partnerFacingEndReason(to, reason, reasonAuthor(actor, s.partnerId, s.sponsor), notRenewed);
    await this.notify(`partner.${to}`, ['partner', `operator:${s.sponsor}`], `Access ${to.replace('_', ' ')}: ${told}`);
  }

  /** Ends the partner for the emergency revocation it holds (signalled or adopted from the database). */
  async revoke(): Promise<void> {
    const r = this.s.revocation!;
    await this.end('revoked', 'partner.revoked', r.reason, actorLabel(r.actor));
    // Verified revocation: the gateway must refuse every key now; security hears if it does not.
    const verification = await records.verifyRevocation(this.s.partnerId);
    if (verification && !verification.verified) {
      await this.notify('revocation.verification_failed', ['role:security'], 'A revoked key was not refused by the gateway', {
        keys: verification.keys,
      });
    }
  }
}
