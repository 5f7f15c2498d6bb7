import { BlockList } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { budgetSourceOf, clientAddressOf } from '../domain/client-address.js';
import { slidingWindowDecision, windowStart, type RateDecision } from '../domain/sliding-window.js';
import type { Db } from '../schema/db.js';
import { peekWindow, takeWindow } from '../schema/repositories/rate-limits.js';

export type { RateDecision };

/**
 * Where the budgets are counted. In process memory by default (one API process, or budgets per
 * process); in the database when several API processes must share one budget (RATE_LIMIT_STORE,
 * the default on Postgres). Both use the same sliding-window arithmetic (domain/sliding-window.ts).
 */
export interface RateLimiter {
  /** counts one event if the budget allows it */
  take(key: string, limit: number, windowMs: number, now?: number): Promise<RateDecision>;
  /** would one more event fit? Counts nothing (a failure budget is checked before, spent after) */
  peek(key: string, limit: number, windowMs: number, now?: number): Promise<RateDecision>;
}

/** Counts in this process's memory: O(1) per key, pruned past 100 000 keys. */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; current: number; previous: number }>();

  async take(key: string, limit: number, windowMs: number, now = Date.now()): Promise<RateDecision> {
    const w = this.window(key, windowMs, now);
    const decision = slidingWindowDecision(w.previous, w.current, limit, windowMs, now);
    if (decision.ok) w.current += 1;
    this.windows.set(key, w);
    if (this.windows.size > 100_000) this.prune(now, windowMs);
    return decision;
  }

  async peek(key: string, limit: number, windowMs: number, now = Date.now()): Promise<RateDecision> {
    const w = this.window(key, windowMs, now);
    return slidingWindowDecision(w.previous, w.current, limit, windowMs, now);
  }

  private window(key: string, windowMs: number, now: number) {
    const start = windowStart(now, windowMs);
    const w = this.windows.get(key);
    if (!w || start - w.start >= 2 * windowMs) return { start, current: 0, previous: 0 };
    if (start !== w.start) return { start, current: 0, previous: w.current };
    return w;
  }

  private prune(now: number, windowMs: number) {
    for (const [key, w] of this.windows) if (now - w.start >= 2 * windowMs) this.windows.delete(key);
  }
}

/** Counts in the database every API process uses (schema/repositories/rate-limits.ts): one budget across processes. */
export class DatabaseRateLimiter implements RateLimiter {
  constructor(private readonly db: Db) {}
  take(key: string, limit: number, windowMs: number, now = Date.now()): Promise<RateDecision> {
    return takeWindow(this.db, key, limit, windowMs, now);
  }
  peek(key: string, limit: number, windowMs: number, now = Date.now()): Promise<RateDecision> {
    return peekWindow(this.db, key, limit, windowMs, now);
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
    async closed(source: string): Promise<RateDecision | undefined> {
      const decision = await limiter.peek(key(source), perMinute, 60_000);
      return decision.ok ? undefined : decision;
    },
    /** one failure spent; `ok: false` when it was over the budget */
    spend: (source: string): Promise<RateDecision> => limiter.take(key(source), perMinute, 60_000),
  };
}
