/**
 * What every phase of one partner's lifecycle shares: its state, the command queue the message
 * handlers fill and the phases drain, and the effects (transition, notify, issueKey, end, revoke)
 * through which the phases write anything. Phases decide; only this class talks to activities, so
 * the revocation adopted from the database is handled in one place.
 */
import { ApplicationFailure, condition, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import { partnerFacingEndReason, reasonAuthor, type Ending } from '../../domain/partner-facing.js';
import type { createActivities } from '../../activities/index.js';
import type { IssueCredentialInput, IssuedCredential, NotificationInput, PartnerEndedFailure, ReadModelPatch, TransitionRecord, UsageEvidence } from '../../domain/lifecycle-records.js';
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
import { grantUnderReview, nextDeadline, type AgendaItem, type LifecyclePolicy, type LifecycleState } from '../state.js';

type Activities = ReturnType<typeof createActivities>;

// Record keeping must not be lost to a passing database fault: generous but bounded retries.
const recordRetry = { initialInterval: '200 ms', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 200 } as const;
const records = proxyActivities<Activities>({ startToCloseTimeout: '15 seconds', retry: recordRetry });
/**
 * The same records as local activities (issue #17 item 4): a short database read or write run by
 * the worker inside the workflow task that asked for it, recorded as one marker, instead of a
 * task scheduled through the server, started, completed and answered by another workflow task.
 * Their retry semantics allow it: each is idempotent (a transition by its sequence, a key by its
 * version, a notice by its id), so the at-least-once of a local activity (a worker dying before
 * its marker is recorded runs it again) writes nothing twice; the retries are the same (backoff
 * beyond a minute becomes a durable timer). The gateway probe of a verified revocation stays a
 * full activity: it waits on the network, for seconds per key.
 */
const localRecords = proxyLocalActivities<Activities>({ startToCloseTimeout: '15 seconds', retry: recordRetry });
// A notice that cannot be delivered is marked failed in the outbox; it never stalls the lifecycle.
const noticeOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 4 },
} as const;
const notices = proxyActivities<Activities>(noticeOptions);
const localNotices = proxyLocalActivities<Activities>(noticeOptions);
/**
 * Workflows that recorded their records as activities, and each notice as its own activity after
 * its transition, replay so; from this patch on, records are local activities and a notice that
 * belongs to a transition is written in the transition's own database transaction.
 */
const LOCAL_RECORDS_PATCH = 'local-records';
/**
 * Workflows that wrote the last approval, the first key and the activation as three local
 * activities replay so; from this patch on they are one (`grantAndActivate`).
 */
const ACTIVATION_IN_ONE_STEP = 'activation-in-one-step';
/**
 * Workflows that opened a review with one local activity reading its facts and one writing its
 * transition replay so; from this patch on both are one (`openReview`).
 */
const REVIEW_OPENS_IN_ONE_STEP = 'review-opens-in-one-step';

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
 * The type of the application failure an activity ended with, however the SDK wrapped it (an
 * activity's arrives as the cause of an ActivityFailure; a local activity's is not wrapped alike).
 */
function applicationFailureType(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure) return e.type ?? undefined;
  }
  return undefined;
}

/**
 * Raised inside the workflow when the database shows the partner revoked by the API under the
 * step in progress. It never leaves the workflow: `step` catches it, answers the command in
 * flight, and the phase's loop finishes the revocation.
 */
class RevokedUnderStep extends Error {}

/** A notice as the phases word it; its id is the lifecycle's. */
export type Notice = Pick<NotificationInput, 'kind' | 'recipients' | 'message' | 'data'>;

type TransitionOptions = Omit<TransitionRecord, 'partnerId' | 'seq' | 'at' | 'action' | 'from' | 'to' | 'actor' | 'patch' | 'notice'> & {
  actor?: string;
  patch?: ReadModelPatch;
  /** who hears of this transition: written with it, in one transaction (one step, one record) */
  notice?: Notice;
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

  /** The record keeping activities this workflow uses at this point of its history (see LOCAL_RECORDS_PATCH). */
  private recordKeeping(): { records: Activities; notices: Activities; local: boolean } {
    const local = patched(LOCAL_RECORDS_PATCH);
    return local ? { records: localRecords, notices: localNotices, local } : { records, notices, local };
  }

  /** Today's policy of the partner's environment (the policy file as it reads now). */
  loadPolicy(): Promise<LifecyclePolicy> {
    return this.recordKeeping().records.loadPolicy(this.s.environment);
  }

  /** What the reviewer sees: each key's last use, the scopes used and never used this cycle. */
  usageEvidence(): Promise<UsageEvidence> {
    return this.recordKeeping().records.gatherUsageEvidence(this.s.partnerId);
  }

  /**
   * The usage evidence and today's policy in one local activity: a review's opening and its answer
   * need both, and each local activity the workflow waits for is one more activation of the sandbox.
   */
  reviewFacts(): Promise<{ evidence: UsageEvidence; policy: LifecyclePolicy }> {
    return this.recordKeeping().records.gatherReviewFacts(this.s.partnerId, this.s.environment);
  }

  /**
   * Writes one transition to the read model and the audit trail, idempotently by sequence, and
   * the notice that tells of it, if any, in the same transaction: a transition is never recorded
   * without its notice, nor a notice of a transition that a revocation overtook.
   */
  async transition(action: string, to: PartnerState, opts: TransitionOptions = {}): Promise<void> {
    const keeping = this.recordKeeping();
    const { record, from } = this.transitionRecord(action, to, opts, keeping.local);
    const written = await keeping.records.applyTransition(record);
    if (written.state === 'revoked' && to !== 'revoked' && patched(ADOPT_REVOCATION_PATCH)) throw await this.revokedUnderStep({ state: from });
    const { notice } = opts;
    if (!notice) return;
    if (keeping.local) this.s.notices += 1;
    else await this.notify(notice.kind, notice.recipients, notice.message, notice.data);
  }

  /** The record of a transition made now: the state and the sequence move on here. With `withNotice`, the notice goes in the record (its id the next one). */
  private transitionRecord(action: string, to: PartnerState, opts: TransitionOptions, withNotice: boolean): { record: TransitionRecord; from: PartnerState } {
    const s = this.s;
    const from = s.state;
    s.state = to;
    s.seq += 1;
    const { actor, patch, notice, ...rest } = opts;
    const record: TransitionRecord = {
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
      ...(notice && withNotice ? { notice: { id: `${s.partnerId}:n${s.notices + 1}`, partnerId: s.partnerId, ...notice } } : {}),
    };
    return { record, from };
  }

  /**
   * Whether this run writes the last approval, the first key and the activation in one step
   * (`grantAndActivate`); a run recorded before ACTIVATION_IN_ONE_STEP replays the three.
   */
  activatesInOneStep(): boolean {
    return this.recordKeeping().local && patched(ACTIVATION_IN_ONE_STEP);
  }

  /**
   * The last approval (`approval.granted`), the partner's first key and the opening of access
   * (`partner.activated`) as one local activity instead of three: nothing the workflow decides
   * comes between them, and each local activity it waits for is one more activation of the
   * sandbox and one more marker in the history. The records are those `transition`, `issueKey`
   * and `transition` write; `opening` sets what access opens with and returns the activation's
   * options (the activity adds the key to its details and notice). When the API revoked the
   * partner under the step, the partner stays where the row was (pending approval) and the step
   * stops, as in `transition`.
   */
  async grantAndActivate(grant: Omit<TransitionOptions, 'notice'>, actor: string, opening: () => TransitionOptions): Promise<IssuedCredential> {
    const s = this.s;
    const before = { stage: s.stage, certifiedAtMs: s.certifiedAtMs, grantedAtMs: s.grantedAtMs, accessWindowSetAtMs: s.accessWindowSetAtMs };
    const granted = this.transitionRecord('approval.granted', 'pending_approval', grant, true);
    s.credentialVersion += 1;
    const version = s.credentialVersion;
    const issue: IssueCredentialInput = { partnerId: s.partnerId, version, environment: s.environment, expiresAt: iso(s.accessUntilMs), actor, purpose: 'approval' };
    const activation = opening();
    const activated = this.transitionRecord('partner.activated', 'active', activation, true);
    const result = await localRecords.grantAndActivate({ grant: granted.record, issue, activation: activated.record });
    if ('refused' in result) throw await this.revokedUnderStep({ ...before, state: granted.from });
    if (activation.notice) s.notices += 1;
    s.credentials.push({ keyId: result.issued.keyId, version, expiresAtMs: Date.parse(result.issued.expiresAt) });
    return result.issued;
  }

  /** Whether this run opens a review in one step (`openReview`); a run recorded before REVIEW_OPENS_IN_ONE_STEP replays its two. */
  opensReviewInOneStep(): boolean {
    return this.recordKeeping().local && patched(REVIEW_OPENS_IN_ONE_STEP);
  }

  /**
   * Opens the cycle's review (`recertification.opened`) as one local activity: its facts (the usage
   * evidence, today's policy) are read and its transition written by the same step, which
   * completes `opening` with what it found (workflows/review-opening.ts), so the sandbox is
   * activated, and a marker recorded, once instead of twice for each review. Answers the policy the
   * review is held to. When the API revoked the partner under it, the partner stays where it was
   * and the step stops, as in `transition`.
   */
  async openReview(opening: TransitionOptions): Promise<LifecyclePolicy> {
    const s = this.s;
    const { record, from } = this.transitionRecord('recertification.opened', 'recertification_due', opening, true);
    const { written, policy } = await localRecords.openReview({ opening: record, grant: grantUnderReview(s), environment: s.environment });
    s.reviewPolicy = policy;
    if (written.state === 'revoked') throw await this.revokedUnderStep({ state: from });
    if (opening.notice) s.notices += 1;
    return policy;
  }

  /**
   * The database is the source of truth for an emergency revocation; the signal is only the
   * wake-up, and an API that dies between its commit and the signal sends none. So when an
   * activity finds the partner revoked, the workflow takes the revocation from its record (reason,
   * actor, time) as if the signal had come, and the step in progress stops. `wasBefore`: what the
   * step had moved on in the state, put back, since the database refused its write.
   */
  private async revokedUnderStep(wasBefore: Partial<LifecycleState> = {}): Promise<RevokedUnderStep> {
    Object.assign(this.s, wasBefore);
    this.s.revocation ??= (await this.recordKeeping().records.recordedRevocation(this.s.partnerId)) ?? {
      reason: 'revoked in the database',
      actor: { kind: 'system', name: 'database' },
      at: iso(Date.now()),
    };
    return new RevokedUnderStep();
  }

  /** A notice on its own (a reminder, a warning); one that tells of a transition goes with it (`transition`'s `notice`). */
  async notify(kind: string, recipients: string[], message: string, data?: Record<string, unknown>): Promise<void> {
    const s = this.s;
    s.notices += 1;
    try {
      await this.recordKeeping().notices.notify({ id: `${s.partnerId}:n${s.notices}`, partnerId: s.partnerId, kind, recipients, message, data });
    } catch {
      // the outbox row records the failure; the lifecycle goes on
    }
  }

  async issueKey(purpose: 'approval' | 'rotation', actor: string) {
    const s = this.s;
    s.credentialVersion += 1;
    const issued = await this.recordKeeping()
      .records.issueCredential({
        partnerId: s.partnerId,
        version: s.credentialVersion,
        environment: s.environment,
        expiresAt: iso(s.accessUntilMs),
        actor,
        purpose,
      })
      .catch(async (err: unknown) => {
        // refused because the row ended under us: the API's revocation committed first
        const ended = applicationFailureType(err) === partnerEnded;
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
    // The notice goes to the partner too: it carries the reason as the partner may read it.
    const told = partnerFacingEndReason(to, reason, reasonAuthor(actor, s.partnerId, s.sponsor), notRenewed);
    await this.transition(action, to, {
      actor,
      reason,
      patch: { endReason: reason, endedAt: iso(Date.now()), pendingExtension: null, plannedOffboarding: null },
      revokeKeys: { reason },
      notice: { kind: `partner.${to}`, recipients: ['partner', `operator:${s.sponsor}`], message: `Access ${to.replace('_', ' ')}: ${told}` },
    });
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
