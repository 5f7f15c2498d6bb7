/**
 * The budget arithmetic every rate limit uses, wherever its counts are kept (process memory or
 * the shared database): a sliding-window counter — the previous window's count weighted by how
 * much of it still overlaps, plus the current window's. Smooth like a log, O(1) per key.
 */

export interface RateDecision {
  ok: boolean;
  /** seconds until a request would be allowed again */
  retryAfterSeconds: number;
  remaining: number;
}

/** The start of the window `now` falls in. */
export const windowStart = (now: number, windowMs: number): number => Math.floor(now / windowMs) * windowMs;

/** Whether one more event fits, given the counts of the previous and the current window. */
export function slidingWindowDecision(previous: number, current: number, limit: number, windowMs: number, now: number): RateDecision {
  const start = windowStart(now, windowMs);
  const overlap = 1 - (now - start) / windowMs;
  const estimated = previous * overlap + current;
  if (estimated + 1 > limit) {
    const retryAfterMs = current + 1 > limit ? start + windowMs - now : ((estimated + 1 - limit) / Math.max(previous, 1)) * windowMs;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)), remaining: 0 };
  }
  return { ok: true, retryAfterSeconds: 0, remaining: Math.max(0, Math.floor(limit - estimated - 1)) };
}

/**
 * How many events the current window may hold in all, given the previous window's count: what a
 * shared store checks atomically as it counts (`count + 1 <= allowance`).
 */
export function currentWindowAllowance(previous: number, limit: number, windowMs: number, now: number): number {
  const overlap = 1 - (now - windowStart(now, windowMs)) / windowMs;
  return limit - previous * overlap;
}
