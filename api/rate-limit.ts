import { BlockList } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { budgetSourceOf, clientAddressOf } from '../domain/client-address.js';

export interface RateDecision {
  ok: boolean;
  /** seconds until a request would be allowed again */
  retryAfterSeconds: number;
  remaining: number;
}

/** The interface a shared store (Redis, Postgres) can implement for several API nodes. */
export interface RateLimiter {
  /** counts one event if the budget allows it */
  take(key: string, limit: number, windowMs: number, now?: number): RateDecision;
  /** would one more event fit? Counts nothing (a failure budget is checked before, spent after) */
  peek(key: string, limit: number, windowMs: number, now?: number): RateDecision;
}

/**
 * Sliding-window counter in process memory: the previous window's count weighted by how much of
 * it still overlaps, plus the current window's. Smooth like a log, O(1) memory per key.
 */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; current: number; previous: number }>();

  take(key: string, limit: number, windowMs: number, now = Date.now()): RateDecision {
    const { window: w, decision } = this.estimate(key, limit, windowMs, now);
    if (decision.ok) w.current += 1;
    this.windows.set(key, w);
    if (this.windows.size > 100_000) this.prune(now, windowMs);
    return decision;
  }

  peek(key: string, limit: number, windowMs: number, now = Date.now()): RateDecision {
    return this.estimate(key, limit, windowMs, now).decision;
  }

  private estimate(key: string, limit: number, windowMs: number, now: number) {
    const start = Math.floor(now / windowMs) * windowMs;
    let w = this.windows.get(key);
    if (!w || start - w.start >= 2 * windowMs) w = { start, current: 0, previous: 0 };
    else if (start !== w.start) w = { start, current: 0, previous: w.current };
    const overlap = 1 - (now - start) / windowMs;
    const estimated = w.previous * overlap + w.current;
    if (estimated + 1 > limit) {
      const retryAfterMs = w.current + 1 > limit ? start + windowMs - now : ((estimated + 1 - limit) / Math.max(w.previous, 1)) * windowMs;
      return { window: w, decision: { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)), remaining: 0 } };
    }
    return { window: w, decision: { ok: true, retryAfterSeconds: 0, remaining: Math.max(0, Math.floor(limit - estimated - 1)) } };
  }

  private prune(now: number, windowMs: number) {
    for (const [key, w] of this.windows) if (now - w.start >= 2 * windowMs) this.windows.delete(key);
  }
}

export type ClientAddressEnv = { Variables: { clientAddress: string } };

/**
 * Resolves the client's address once per request (see clientAddressOf: the socket peer, or
 * X-Forwarded-For through the trusted proxies only) and keeps it as `clientAddress`.
 */
export function resolveClientAddress(trustedProxies: BlockList = new BlockList()): MiddlewareHandler<ClientAddressEnv> {
  return async (c, next) => {
    c.set('clientAddress', clientAddressOf(peerOf(c), c.req.header('x-forwarded-for'), trustedProxies));
    return next();
  };
}

function peerOf(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined; // not served by a socket (app.request in tests)
  }
}

/**
 * The source a per-source budget is kept for: the client's address as resolved for this request
 * (an IPv6 client by its /64). Without the resolving middleware, the socket peer.
 */
export function sourceOf(c: Context<any>): string {
  const resolved = (c as Context<ClientAddressEnv>).get('clientAddress') as string | undefined;
  return budgetSourceOf(resolved ?? clientAddressOf(peerOf(c), undefined, new BlockList()));
}

/**
 * Failed attempts (wrong credentials, guessed keys) per source and minute. `closed` is asked BEFORE
 * an attempt is checked: a source over its budget is refused unchecked, or guessing would go on
 * and a right guess would still pass. `spend` counts one failure.
 */
export function failureBudget(limiter: RateLimiter, name: string, perMinute: number) {
  const key = (source: string) => `${name}:${source}`;
  return {
    /** the refusal for a source already over its budget, else undefined */
    closed(source: string): RateDecision | undefined {
      const decision = limiter.peek(key(source), perMinute, 60_000);
      return decision.ok ? undefined : decision;
    },
    /** one failure spent; `ok: false` when it was over the budget */
    spend: (source: string): RateDecision => limiter.take(key(source), perMinute, 60_000),
  };
}
