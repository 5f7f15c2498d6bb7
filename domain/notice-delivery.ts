/**
 * Which webhook endpoints a notice goes to, and when a failed delivery is tried again (issue #16,
 * item 9). Pure rules: the outbox (schema/repositories/notifications.ts) stores the result and the
 * deliverer (activities/notifications.ts) follows it.
 */

/** An endpoint's event filter: a notice kind (`partner.revoked`), a family (`partner.*`) or everything (`*`). */
export function matchesEvent(filters: readonly string[], kind: string): boolean {
  return filters.some((f) => f === '*' || f === kind || (f.endsWith('.*') && kind.startsWith(f.slice(0, -1))));
}

export const eventFilterPattern = /^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/;

export interface RetryPolicy {
  /** the first retry waits this long; each next one twice as long */
  firstRetryMs: number;
  /** no wait is longer than this */
  maxBackoffMs: number;
  /** a notice not delivered this long after it was written is a dead letter */
  retryForMs: number;
}

/** Hours of retries by default: a receiver down for a night still gets every notice in the morning. */
export const defaultRetryPolicy: RetryPolicy = { firstRetryMs: 5_000, maxBackoffMs: 30 * 60_000, retryForMs: 24 * 3600_000 };

/**
 * When to try again after `attempts` failed attempts, or undefined when the delivery is dead: the
 * next attempt would fall after `retryUntil`. Jitter (±20 %) keeps many notices failed by one outage
 * from coming back at the same second.
 */
export function nextAttemptAt(attempts: number, now: number, retryUntil: number, policy: RetryPolicy, random = Math.random): number | undefined {
  const backoff = Math.min(policy.maxBackoffMs, policy.firstRetryMs * 2 ** Math.max(0, attempts - 1));
  const at = now + Math.round(backoff * (0.8 + 0.4 * random()));
  return at > retryUntil ? undefined : at;
}
