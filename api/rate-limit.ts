import { BlockList } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { budgetSourceOf, clientAddressOf, isTrustedPeer } from '../domain/client-address.js';
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

/**
 * Counts in this process's memory: O(1) per key. Windows that weigh nothing any more (two of
 * their own length old) are pruned at most once a second once there are many keys; past a hard
 * cap the least recently counted keys go first, so memory stays bounded whatever a client sends
 * (a free IPv6 /48 is 65 536 budget sources).
 */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; windowMs: number; current: number; previous: number }>();
  private lastPruned = 0;

  constructor(
    private readonly pruneAbove = 100_000,
    private readonly maxKeys = 250_000,
  ) {}

  async take(key: string, limit: number, windowMs: number, now = Date.now()): Promise<RateDecision> {
    const w = this.window(key, windowMs, now);
    const decision = slidingWindowDecision(w.previous, w.current, limit, windowMs, now);
    if (decision.ok) w.current += 1;
    this.windows.delete(key); // re-inserted last: the map's order is least recently counted first
    this.windows.set(key, w);
    if (this.windows.size > this.pruneAbove) this.prune(now);
    return decision;
  }

  async peek(key: string, limit: number, windowMs: number, now = Date.now()): Promise<RateDecision> {
    const w = this.window(key, windowMs, now);
    return slidingWindowDecision(w.previous, w.current, limit, windowMs, now);
  }

  get size(): number {
    return this.windows.size;
  }

  private window(key: string, windowMs: number, now: number) {
    const start = windowStart(now, windowMs);
    const w = this.windows.get(key);
    if (!w || w.windowMs !== windowMs || start - w.start >= 2 * windowMs) return { start, windowMs, current: 0, previous: 0 };
    if (start !== w.start) return { start, windowMs, current: 0, previous: w.current };
    return w;
  }

  private prune(now: number) {
    if (now - this.lastPruned >= 1000) {
      this.lastPruned = now;
      // each window by its own length: a short tier window never clears a minute's failure budget
      for (const [key, w] of this.windows) if (now - w.start >= 2 * w.windowMs) this.windows.delete(key);
    }
    for (const key of this.windows.keys()) {
      if (this.windows.size <= this.maxKeys) break;
      this.windows.delete(key);
    }
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

/** Did this request come through one of the trusted proxies (so its X-Forwarded-* headers are theirs)? */
export function viaTrustedProxy(c: Context, trustedProxies: BlockList = new BlockList()): boolean {
  return isTrustedPeer(peerOf(c), trustedProxies);
}

/**
 * The source a per-source budget is kept for: the client's address as resolved for this request
 * (an IPv6 client by its /64). Without the resolving middleware, the socket peer.
 */
export function sourceOf(c: Context<any>): string {
  return budgetSourceOf(requestClientAddress(c));
}

/** The client's own address, as resolved for this request (without the resolving middleware, the socket peer). */
export function requestClientAddress(c: Context<any>): string {
  const resolved = (c as Context<ClientAddressEnv>).get('clientAddress') as string | undefined;
  return resolved ?? clientAddressOf(peerOf(c), undefined, new BlockList());
}

interface SourceChecks {
  /** checks of the source not yet ended (reading, waiting or running) */
  open: number;
  /** checks past the budget read and not yet ended */
  running: number;
  /** failures spent so far by the source's checks (only differences matter: see `unread`) */
  spent: number;
  /** checks waiting for a running one to end before they read again */
  waiting: Array<() => void>;
}

/**
 * Failed attempts (wrong credentials, guessed keys) per source and minute. A source over its
 * budget is refused before its credential is looked at: otherwise guessing would go on and a right
 * guess would still pass.
 *
 * Checks of one source that run at the same time are bounded too: a budget with `remaining` failures
 * left lets at most `remaining + 1` checks of that source run at once in this process, and the
 * others wait for one of them to finish and then ask again. Without that, a volley of guesses
 * arriving together all passed the budget check before the first failure was counted (seen on
 * Postgres, whose driver awaits each query). Honest bursts only wait a few milliseconds; across
 * several API processes on a shared store a volley at the edge of the budget can get one batch per
 * process through (docs/SECURITY.md).
 */
export function failureBudget(limiter: RateLimiter, name: string, perMinute: number) {
  const key = (source: string) => `${name}:${source}`;
  /** Each source's checks in this process; dropped when its last check ends. */
  const sources = new Map<string, SourceChecks>();
  return {
    /**
     * Runs one check of a credential from `source` within its budget: `refused` (no check ran) when
     * the source is over it; otherwise the check's result, a failure (`isFailure`) spent, with
     * `overBudget` when that failure was the one too many.
     */
    async check<T>(source: string, attempt: () => Promise<T>, isFailure: (result: T) => boolean): Promise<{ refused: RateDecision } | { result: T; overBudget?: RateDecision }> {
      const s = sources.get(source) ?? { open: 0, running: 0, spent: 0, waiting: [] };
      sources.set(source, s);
      s.open += 1;
      try {
        for (;;) {
          const spentBefore = s.spent;
          const decision = await limiter.peek(key(source), perMinute, 60_000);
          if (!decision.ok) {
            s.waiting.shift()?.(); // the next waiter learns it too, with one peek of its own
            return { refused: decision };
          }
          // A failure spent after this read was asked may be missing from it (its write and this
          // read race on two connections, and on Postgres one read answers many askers:
          // schema/read-batcher.ts) while it no longer counts as running: count it as unread.
          const unread = s.spent - spentBefore;
          if (s.running + unread <= decision.remaining) break;
          // nothing running here to wake us: the next read shows what this one may have missed
          if (s.running > 0) await new Promise<void>((resolve) => s.waiting.push(resolve));
        }
        s.running += 1;
        let spending = false;
        try {
          const result = await attempt();
          if (!isFailure(result)) return { result };
          spending = true;
          const spent = await limiter.take(key(source), perMinute, 60_000);
          return spent.ok ? { result } : { result, overBudget: spent };
        } finally {
          // after the take settled: a read asked from now on shows it
          if (spending) s.spent += 1;
          s.running -= 1;
          s.waiting.shift()?.();
        }
      } finally {
        if (--s.open === 0) sources.delete(source);
      }
    },
    /** one failure spent where nothing is worth bounding (a malformed probe); `ok: false` when it was over the budget */
    spend: (source: string): Promise<RateDecision> => limiter.take(key(source), perMinute, 60_000),
    /** is the source within its budget? Counts nothing: for a credential already known good, which cannot spend (a cached gateway token) */
    peek: (source: string): Promise<RateDecision> => limiter.peek(key(source), perMinute, 60_000),
  };
}
