/**
 * The approval phase: the request is submitted, each required stage is decided by its approver,
 * and the deadlines of an open stage (reminders, escalation, timeout) fire. It ends when the
 * partner is active (key issued), rejected, expired or revoked.
 */
import { actorLabel, type DecisionInput } from '../messages.js';
import { checkDecision } from '../rules.js';
import { agenda, autoApproves, nextItem, requiredStages, type AgendaItem } from '../state.js';
import { iso, overtakenByRevocation, type CommandOutcome, type Lifecycle, type Notice, type QueuedCommand } from './context.js';
import { changeSponsor } from './governance.js';

export async function approvalPhase(lc: Lifecycle): Promise<void> {
  const s = lc.s;
  await lc.step(() => submit(lc));

  while (s.state === 'pending_approval') {
    if (s.revocation) return lc.revoke();
    // Overdue deadlines come first (a worker back from an outage fires them in time order).
    const due = nextItem(agenda(s));
    if (due && due.atMs <= Date.now()) {
      await lc.step(() => onApprovalDeadline(lc, due));
      continue;
    }
    const woke = await lc.waitForWork(due);
    if (s.revocation) return lc.revoke();
    if (woke) {
      const next = lc.takeCommand();
      await lc.step(() => onApprovalCommand(lc, next), next.id);
    } else if (due) await lc.step(() => onApprovalDeadline(lc, due));
  }
}

/** Loads the environment's policy, which decides the stages, and asks the first approver. */
async function submit(lc: Lifecycle): Promise<void> {
  const s = lc.s;
  const policy = await lc.loadPolicy();
  s.policy = policy;
  s.stages = requiredStages(policy, s.scopes);
  s.stageOpenedAtMs = Date.now();
  const byPolicy = autoApproves(policy, s.scopes);
  await lc.transition('partner.submitted', 'pending_approval', {
    // every audit event names its actor: a self-service request is the partner's own
    actor: s.requestedBy === 'partner' ? `partner:${s.partnerId}` : s.requestedBy,
    patch: { policyVersion: policy.version, scopes: s.scopes, accessUntil: iso(s.accessUntilMs) },
    details: { stages: s.stages },
    ...(byPolicy ? {} : { notice: stageOpened(lc) }),
  });
  if (byPolicy) return approveByPolicy(lc);
}

/** The notice that a stage waits for its approver. */
function stageOpened(lc: Lifecycle): Notice {
  const stage = lc.s.stage;
  return { kind: 'approval.requested', recipients: stageRecipients(lc, false), message: `Approval needed (stage ${stage})`, data: { stage } };
}

/**
 * The policy approves the request itself (its `autoApprove`): each stage is decided as the actor
 * `system:policy@<version>`, recorded like a person's decision, and the key is issued for pickup as
 * usual. Nobody is asked; the sponsor is told.
 */
async function approveByPolicy(lc: Lifecycle): Promise<void> {
  const s = lc.s;
  const policy = s.policy!;
  const actor = { kind: 'system' as const, name: `policy@${policy.version}` };
  const reason = `approved by policy ${policy.version}: every scope is low-risk`;
  while (s.state === 'pending_approval' && s.stage && !s.revocation) {
    await decideStage(lc, null, { decision: 'approve', reason, actor });
  }
  await lc.notify('approval.auto_approved', [`operator:${s.sponsor}`], `Approved by policy (${policy.version}): every scope is low-risk`, { policyVersion: policy.version });
}

/** Who hears about the open stage: security for its stage; the sponsor, and the approvers once escalated. */
function stageRecipients(lc: Lifecycle, alternates: boolean): string[] {
  const s = lc.s;
  return s.stage === 'security' ? ['role:security'] : alternates ? [`operator:${s.sponsor}`, 'role:approver'] : [`operator:${s.sponsor}`];
}

async function onApprovalCommand(lc: Lifecycle, { id, command }: QueuedCommand): Promise<void> {
  // a pending request follows its new sponsor: stage 1 waits on the successor from here
  if (command.kind === 'sponsor') {
    await changeSponsor(lc, id, command.input);
    return;
  }
  if (command.kind !== 'decide') {
    return lc.settle(id, { error: { type: 'NotAllowedInState', message: 'the request is still waiting for approval' } });
  }
  const problem = checkDecision(lc.s, command.input, Date.now());
  if (problem) return lc.settle(id, { error: problem });
  return decideStage(lc, id, command.input);
}

/**
 * An approver's decision on the open stage: reject, open the next stage, or activate after the last.
 * `id` null: the policy's own decision, which no caller waits for.
 */
async function decideStage(lc: Lifecycle, id: number | null, d: DecisionInput): Promise<void> {
  const s = lc.s;
  const answer = (outcome: CommandOutcome) => {
    if (id !== null) lc.settle(id, outcome);
  };
  const by = actorLabel(d.actor);
  const stage = s.stage!;
  const decision = { kind: 'approval' as const, stage, decision: d.decision, reason: d.reason, scopes: d.scopes, accessUntil: d.accessUntil };

  if (d.decision === 'reject') {
    await lc.end('rejected', 'approval.rejected', d.reason, by);
    return answer({ ok: lc.commandResult() });
  }
  if (d.scopes) s.scopes = [...new Set(d.scopes)];
  if (d.accessUntil) s.accessUntilMs = Date.parse(d.accessUntil);
  // the tier an approver granted (the validator held it to the policy's approverRateLimitTiers)
  if (d.rateLimitTier) s.rateLimitTier = d.rateLimitTier;
  const tier = d.rateLimitTier ? { rateLimitTier: d.rateLimitTier } : {};
  s.approvedBy.push(by);
  const nextStage = s.stages[s.stages.indexOf(stage) + 1];
  if (nextStage) {
    s.stage = nextStage;
    s.stageOpenedAtMs = Date.now();
    s.escalated = false;
    await lc.transition('approval.granted', 'pending_approval', {
      actor: by,
      reason: d.reason,
      decision,
      patch: { scopes: s.scopes, accessUntil: iso(s.accessUntilMs), escalated: false, ...tier },
      ...(d.rateLimitTier ? { details: tier } : {}),
      notice: stageOpened(lc),
    });
    return answer({ ok: lc.commandResult() });
  }
  // Last stage: record the approval, issue the key, then open access.
  const grant = {
    actor: by,
    reason: d.reason,
    decision,
    patch: { scopes: s.scopes, accessUntil: iso(s.accessUntilMs), ...tier },
    ...(d.rateLimitTier ? { details: tier } : {}),
  };
  const opening = () => {
    s.stage = null;
    s.certifiedAtMs = Date.now();
    s.grantedAtMs = s.certifiedAtMs;
    s.accessWindowSetAtMs = Date.now();
    return {
      actor: by,
      patch: { lastCertifiedAt: iso(s.certifiedAtMs), escalated: false },
      notice: { kind: 'credential.ready', recipients: ['partner'], message: 'Your API key is ready for pickup' },
    };
  };
  let issued;
  if (lc.activatesInOneStep()) {
    // the three records in one local activity (the key added to the activation's details and notice there)
    issued = await lc.grantAndActivate(grant, by, opening);
  } else {
    await lc.transition('approval.granted', 'pending_approval', grant);
    // the signal came while the approval was written: the loop finishes the revocation
    if (s.revocation) return answer({ error: overtakenByRevocation });
    issued = await lc.issueKey('approval', by);
    const activation = opening();
    await lc.transition('partner.activated', 'active', {
      ...activation,
      details: { keyId: issued.keyId, prefix: issued.prefix, expiresAt: issued.expiresAt },
      notice: { ...activation.notice, data: { keyId: issued.keyId } },
    });
  }
  answer({
    ok: lc.commandResult({ issued: { keyId: issued.keyId, expiresAt: issued.expiresAt }, accessUntil: iso(s.accessUntilMs) }),
  });
}

async function onApprovalDeadline(lc: Lifecycle, item: AgendaItem): Promise<void> {
  const s = lc.s;
  s.done.push(item.key);
  if (item.kind === 'approval_reminder') {
    await lc.notify('approval.reminder', stageRecipients(lc, s.escalated), `Reminder: approval needed (stage ${s.stage})`, { stage: s.stage });
  } else if (item.kind === 'approval_escalation') {
    s.escalated = true;
    await lc.transition('approval.escalated', 'pending_approval', {
      patch: { escalated: true },
      details: { stage: s.stage },
      notice: { kind: 'approval.escalated', recipients: stageRecipients(lc, true), message: `Escalated: approval overdue (stage ${s.stage})`, data: { stage: s.stage } },
    });
  } else if (item.kind === 'approval_timeout') {
    await lc.end('request_expired', 'approval.expired', `no decision within the approval timeout (stage ${s.stage})`);
  }
}
