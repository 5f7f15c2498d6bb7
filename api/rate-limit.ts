import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { problems } from './problem.js';

export interface RateDecision {
  ok: boolean;
  /** seconds until a request would be allowed again */
  retryAfterSeconds: number;
  remaining: number;
}

/** The interface a shared store (Redis, Postgres) can implement for several API nodes. */
export interface RateLimiter {
  take(key: string, limit: number, windowMs: number, now?: number): RateDecision;
}

/**
 * Sliding-window counter in process memory: the previous window's count weighted by how much of
 * it still overlaps, plus the current window's. Smooth like a log, O(1) memory per key.
 */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; current: number; previous: number }>();

  take(key: string, limit: number, windowMs: number, now = Date.now()): RateDecision {
    const start = Math.floor(now / windowMs) * windowMs;
    let w = this.windows.get(key);
    if (!w || start - w.start >= 2 * windowMs) w = { start, current: 0, previous: 0 };
    else if (start !== w.start) w = { start, current: 0, previous: w.current };
    const overlap = 1 - (now - start) / windowMs;
    const estimated = w.previous * overlap + w.current;
    if (estimated + 1 > limit) {
      this.windows.set(key, w);
      const retryAfterMs = w.current + 1 > limit ? start + windowMs - now : ((estimated + 1 - limit) / Math.max(w.previous, 1)) * windowMs;
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)), remaining: 0 };
    }
    w.current += 1;
    this.windows.set(key, w);
    if (this.windows.size > 100_000) this.prune(now, windowMs);
    return { ok: true, retryAfterSeconds: 0, remaining: Math.max(0, Math.floor(limit - estimated - 1)) };
  }

  private prune(now: number, windowMs: number) {
    for (const [key, w] of this.windows) if (now - w.start >= 2 * windowMs) this.windows.delete(key);
  }
}

/** The caller's address: the socket's peer (not X-Forwarded-For, which anyone can write). */
export function sourceOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** 429 + Retry-After once `keyOf` has made `limit` requests in `windowMs`. */
export function rateLimit(limiter: RateLimiter, name: string, limit: number, windowMs: number, keyOf: (c: Context) => string): MiddlewareHandler {
  return async (c, next) => {
    const decision = limiter.take(`${name}:${keyOf(c)}`, limit, windowMs);
    if (!decision.ok) throw problems.tooMany(decision.retryAfterSeconds);
    return next();
  };
}
