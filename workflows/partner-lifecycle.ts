/**
 * One partner, one durable workflow: approval stages → credential issuance → recertification
 * cycles → offboarding, with emergency revocation from any state. Deterministic code only: all
 * I/O is in activities, all time is workflow time.
 *
 * This file is the workflow's outline: its messages are registered here (before the first await;
 * each queues a command that a phase serves), then it runs the phases. What they share (state,
 * queue, effects) is `lifecycle/context.ts`; the phases are `lifecycle/approval.ts` and
 * `lifecycle/access.ts`.
 */
import { allHandlersFinished, condition, continueAsNew, setHandler } from '@temporalio/workflow';
import {
  changeRateTierUpdate,
  changeSponsorUpdate,
  decideUpdate,
  emergencyRevokeSignal,
  planOffboardingUpdate,
  recertifyUpdate,
  requestExtensionUpdate,
  resumeUpdate,
  rotateCredentialUpdate,
  statusQuery,
  suspendUpdate,
  terminalStates,
  type PartnerState,
  type Submission,
} from './messages.js';
import {
  checkDecision,
  checkExtension,
  checkOffboarding,
  checkRateTierChange,
  checkRecertification,
  checkRecertificationDrift,
  checkResumption,
  checkRotation,
  checkSponsorChange,
  checkSuspension,
} from './rules.js';
import { agenda, initialState, statusOf, type LifecycleState } from './state.js';
import { Lifecycle } from './lifecycle/context.js';
import { approvalPhase } from './lifecycle/approval.js';
import { accessPhase } from './lifecycle/access.js';

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

export async function partnerLifecycle(input: LifecycleInput): Promise<LifecycleOutcome> {
  const lc = new Lifecycle(input.carried ?? initialState(input.partnerId, input.submission, Date.now()));
  const s = lc.s;

  // ---- handlers: registered before the first await; they queue, a phase acts ----
  // Validators reject early (the caller gets a clean refusal); the phase re-checks at dequeue.
  setHandler(statusQuery, () => statusOf(s));
  setHandler(decideUpdate, (d) => lc.enqueue({ kind: 'decide', input: d }), {
    validator: (d) => lc.validate(checkDecision(s, d, Date.now())),
  });
  setHandler(recertifyUpdate, (r) => lc.enqueue({ kind: 'recertify', input: r }), {
    // held against today's policy as loaded when the review opened; the answer's dequeue loads it again
    validator: (r) => lc.validate(checkRecertification(s, r) ?? (s.reviewPolicy ? checkRecertificationDrift(s, r, s.reviewPolicy) : null)),
  });
  setHandler(requestExtensionUpdate, (e) => lc.enqueue({ kind: 'extension', input: e }), {
    validator: (e) => lc.validate(checkExtension(s, e, Date.now())),
  });
  setHandler(planOffboardingUpdate, (o) => lc.enqueue({ kind: 'offboarding', input: o }), {
    validator: (o) => lc.validate(checkOffboarding(s, o, Date.now())),
  });
  setHandler(rotateCredentialUpdate, (r) => lc.enqueue({ kind: 'rotation', input: r }), {
    validator: (r) => lc.validate(checkRotation(s, r)),
  });
  setHandler(suspendUpdate, (r) => lc.enqueue({ kind: 'suspend', input: r }), {
    validator: (r) => lc.validate(checkSuspension(s, r)),
  });
  setHandler(resumeUpdate, (r) => lc.enqueue({ kind: 'resume', input: r }), {
    validator: (r) => lc.validate(checkResumption(s, r)),
  });
  setHandler(changeSponsorUpdate, (c) => lc.enqueue({ kind: 'sponsor', input: c }), {
    validator: (c) => lc.validate(checkSponsorChange(s, c)),
  });
  setHandler(changeRateTierUpdate, (t) => lc.enqueue({ kind: 'rateTier', input: t }), {
    validator: (t) => lc.validate(checkRateTierChange(s, t)),
  });
  setHandler(emergencyRevokeSignal, (r) => {
    s.revocation ??= r;
  });

  // ---- run: approval (first run only) → access → continue-as-new or end ----
  if (!input.carried) await approvalPhase(lc);
  if (!terminalStates.includes(s.state) && (await accessPhase(lc)) === 'continue') {
    await condition(allHandlersFinished);
    // Only current state crosses over; finished agenda keys of past cycles are dropped.
    const live = new Set(agenda({ ...s, done: [] }).map((i) => i.key));
    s.done = s.done.filter((key) => live.has(key));
    return continueAsNew<typeof partnerLifecycle>({ partnerId: s.partnerId, submission: input.submission, carried: s });
  }
  lc.drainQueue(`the partner's lifecycle ended (${s.state})`);
  await condition(allHandlersFinished);
  return { state: s.state, reason: s.endReason };
}
