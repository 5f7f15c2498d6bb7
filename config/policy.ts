import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { msToNumber } from '@temporalio/common/lib/time.js';
import { z } from 'zod';
import type { Environment } from '../workflows/messages.js';
import type { LifecyclePolicy } from '../workflows/state.js';

/**
 * Policy as code: config/policy.json, validated here. Durations use Temporal's string form
 * ("90 days", "2s"; "M" is minutes and there is no month unit) and resolve to milliseconds.
 * The version is a hash of the canonical content, so formatting changes do not change it.
 */
export const duration = z.string().transform((text, ctx) => {
  let ms: number;
  try {
    ms = msToNumber(text as Parameters<typeof msToNumber>[0]);
  } catch {
    ms = Number.NaN;
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a positive duration (e.g. "90 days", "12h", "2s")` });
    return z.NEVER;
  }
  return ms;
});

const environmentPolicySchema = z
  .strictObject({
    maxAccess: duration,
    securityApproval: z.enum(['always', 'high-risk']),
    approvalTimeout: duration,
    approvalReminders: z.array(duration),
    escalateAfter: duration,
    recertifyEvery: duration,
    recertReminders: z.array(duration).min(1, 'at least one reminder: the largest opens the review'),
    noAnswer: z.enum(['suspend', 'offboard']),
    suspendedGrace: duration,
    expiryWarnings: z.array(duration),
    rotationOverlap: duration,
    rateLimitTiers: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), z.strictObject({ requests: z.number().int().positive(), window: duration })),
    defaultRateLimitTier: z.string(),
    /**
     * Approval by the policy itself: `scopes: "low-risk"` approves a request whose scopes are all
     * low-risk without a human, audited as `system:policy@<version>`. Absent: every request waits
     * for its approvers. Per environment, so production approves by itself only when its own
     * entry says so.
     */
    autoApprove: z.strictObject({ scopes: z.literal('low-risk') }).optional(),
    /**
     * The tiers an approver may grant at approval (absent: the default tier only). Security and
     * admins change a live partner's tier to any of `rateLimitTiers` afterwards.
     */
    approverRateLimitTiers: z.array(z.string()).min(1).optional(),
  })
  .superRefine((p, ctx) => {
    p.approvalReminders.forEach((r, i) => {
      if (r >= p.approvalTimeout) ctx.addIssue({ code: 'custom', path: ['approvalReminders', i], message: 'must be before approvalTimeout' });
    });
    if (p.escalateAfter >= p.approvalTimeout) ctx.addIssue({ code: 'custom', path: ['escalateAfter'], message: 'must be before approvalTimeout' });
    p.recertReminders.forEach((r, i) => {
      if (r >= p.recertifyEvery) ctx.addIssue({ code: 'custom', path: ['recertReminders', i], message: 'must be shorter than recertifyEvery' });
    });
    p.expiryWarnings.forEach((w, i) => {
      if (w >= p.maxAccess) ctx.addIssue({ code: 'custom', path: ['expiryWarnings', i], message: 'must be shorter than maxAccess' });
    });
    if (Object.keys(p.rateLimitTiers).length === 0) ctx.addIssue({ code: 'custom', path: ['rateLimitTiers'], message: 'needs at least one tier' });
    p.approverRateLimitTiers?.forEach((tier, i) => {
      if (!(tier in p.rateLimitTiers)) ctx.addIssue({ code: 'custom', path: ['approverRateLimitTiers', i], message: 'must name one of rateLimitTiers' });
    });
    if (p.autoApprove && p.securityApproval === 'always') {
      ctx.addIssue({ code: 'custom', path: ['autoApprove'], message: 'cannot be combined with securityApproval "always": every request there needs security' });
    }
    if (!(p.defaultRateLimitTier in p.rateLimitTiers)) {
      ctx.addIssue({ code: 'custom', path: ['defaultRateLimitTier'], message: 'must name one of rateLimitTiers' });
    }
  })
  .transform((p) => ({
    ...p,
    approvalReminders: [...p.approvalReminders].sort((a, b) => a - b),
    recertReminders: [...p.recertReminders].sort((a, b) => b - a),
    expiryWarnings: [...p.expiryWarnings].sort((a, b) => b - a),
  }));

export const policyFileSchema = z.strictObject({
  scopes: z.record(
    z.string().regex(/^[a-z][a-z0-9_.:-]{1,63}$/, 'scope names are lower-case, e.g. orders:read'),
    z.strictObject({ risk: z.enum(['low', 'high']), description: z.string().min(1) }),
  ),
  environments: z.strictObject({ sandbox: environmentPolicySchema, production: environmentPolicySchema }),
  /**
   * How long records that are not the audit trail are kept (issue #16, item 11); defaults when absent
   * (`retentionOf`). The audit trail is never pruned: it is what proves the rest.
   */
  retention: z
    .strictObject({
      /** notices no longer waiting for a delivery (delivered, dead or never sent) */
      notifications: duration.optional(),
      /** per-day usage counts (the evidence at recertification: keep at least a cycle) */
      usageCounters: duration.optional(),
    })
    .optional(),
});

/** Three months of notices, a little over a year of usage: a yearly recertification still sees a whole year. */
export const defaultRetention = { notificationsMs: 90 * 86_400_000, usageCountersMs: 400 * 86_400_000 };

export const retentionOf = (policy: Policy) => ({
  notificationsMs: policy.retention?.notifications ?? defaultRetention.notificationsMs,
  usageCountersMs: policy.retention?.usageCounters ?? defaultRetention.usageCountersMs,
});

export type EnvironmentPolicy = z.output<typeof environmentPolicySchema>;
export type Policy = z.output<typeof policyFileSchema> & { version: string };

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

export const policyVersion = (raw: unknown): string =>
  `sha256:${createHash('sha256').update(JSON.stringify(canonical(raw))).digest('hex').slice(0, 16)}`;

export class PolicyError extends Error {}

export function parsePolicy(raw: unknown): Policy {
  const parsed = policyFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new PolicyError(`invalid policy: ${lines.join('; ')}`);
  }
  return { ...parsed.data, version: policyVersion(raw) };
}

export function loadPolicyFile(file: string): Policy {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(`policy file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parsePolicy(raw);
}

/** The slice of the policy one environment's lifecycle needs, as the workflow takes it. */
export function toLifecyclePolicy(policy: Policy, environment: Environment): LifecyclePolicy {
  const p = policy.environments[environment];
  return {
    version: policy.version,
    securityApproval: p.securityApproval,
    scopeRisk: Object.fromEntries(Object.entries(policy.scopes).map(([name, scope]) => [name, scope.risk])),
    maxAccessMs: p.maxAccess,
    approvalTimeoutMs: p.approvalTimeout,
    approvalRemindersMs: p.approvalReminders,
    escalateAfterMs: p.escalateAfter,
    recertifyEveryMs: p.recertifyEvery,
    recertRemindersMs: p.recertReminders,
    noAnswer: p.noAnswer,
    suspendedGraceMs: p.suspendedGrace,
    expiryWarningsMs: p.expiryWarnings,
    rotationOverlapMs: p.rotationOverlap,
    rateLimitTiers: Object.keys(p.rateLimitTiers),
    defaultRateLimitTier: p.defaultRateLimitTier,
    approverRateLimitTiers: p.approverRateLimitTiers ?? [p.defaultRateLimitTier],
    // only when set: a workflow's recorded policy stays what it was for every file without it
    ...(p.autoApprove ? { autoApprove: p.autoApprove.scopes } : {}),
  };
}

/**
 * What identifies a file's content without reading it (a write moves its size, mtime or ctime, a
 * replacement its inode), and when it last changed.
 */
function fileStamp(file: string): { key: string; changedAtMs: number } {
  try {
    const st = fs.statSync(file);
    return { key: `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, changedAtMs: Math.max(st.mtimeMs, st.ctimeMs) };
  } catch {
    return { key: 'missing', changedAtMs: Date.now() };
  }
}

/**
 * A file's timestamps move in the kernel's ticks, not at every write: two writes of the same size
 * within one tick leave the same stamp. A file changed this recently is read again whatever its
 * stamp says (git's "racily clean" rule).
 */
const RACY_MS = 2000;

/**
 * Today's policy on every call: each recertification cycle acts on the file as it is now. Read,
 * parsed and validated again only when the file changed (a stat per call instead, measured in
 * bench/README.md: the read was half a millisecond of every review); a file that cannot be used
 * throws every time until it is fixed, as before.
 */
export const lifecyclePolicyFrom = (file: string) => {
  let read: { stamp: string; policy: Policy } | undefined;
  return (environment: Environment) => {
    // stamped before reading: a write after the stamp shows as a change on the next call
    const stamp = fileStamp(file);
    if (read?.stamp !== stamp.key || Date.now() - stamp.changedAtMs < RACY_MS) read = { stamp: stamp.key, policy: loadPolicyFile(file) };
    return toLifecyclePolicy(read.policy, environment);
  };
};

/**
 * The policy file as a long-running process acts on it: read at start (an invalid file refuses
 * the start), then re-read whenever it changes, so every API process acts on the file the workers
 * re-read at each cycle instead of the one it started with. An edit that leaves the content's
 * version unchanged (formatting) changes nothing. A changed file that is invalid is
 * refused: the last valid policy stays in force and `onError` says why, until the file is fixed.
 */
export function followPolicyFile(
  file: string,
  handlers: { onChange?: (policy: Policy, previous: Policy) => void; onError?: (err: PolicyError) => void } = {},
  everyMs = 1000,
): { current: () => Policy; stop: () => void } {
  // what the file looked like before it was read: any write after that shows as a change
  const stamp = () => fileStamp(file).key;
  let seen = stamp();
  let policy = loadPolicyFile(file);
  // stat polling: works on every file system (inotify misses edits through some mounts, and
  // editors that replace the file), and costs one stat a second
  const timer = setInterval(() => {
    const now = stamp();
    if (now === seen) return;
    seen = now;
    try {
      const next = loadPolicyFile(file);
      if (next.version === policy.version) return;
      const previous = policy;
      policy = next;
      handlers.onChange?.(next, previous);
    } catch (err) {
      // never thrown from the timer: that would end the process over a file being edited
      handlers.onError?.(err instanceof PolicyError ? err : new PolicyError(`cannot use policy file ${file}: ${(err as Error).message}`));
    }
  }, everyMs);
  timer.unref();
  return { current: () => policy, stop: () => clearInterval(timer) };
}
