/**
 * Budgets that must hold across API processes (issue #13): counted in the database every process
 * uses, on SQLite and on the run's real Postgres. Two apps on one database stand for two API
 * processes; two Kysely instances on one database for two processes' connections.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { DatabaseRateLimiter, InMemoryRateLimiter, type RateLimiter } from '../../api/rate-limit.js';
import { loadPolicyFile } from '../../config/policy.js';
import { generateDataKey, parseDataKey } from '../../domain/sealed-box.js';
import { createLogger } from '../../runtime/services.js';
import { migrateToLatest, openDatabase, type Db } from '../../schema/db.js';
import { pruneRateLimitWindows } from '../../schema/repositories/rate-limits.js';
import { createTestDatabase, dropTestDatabase } from '../helpers/postgres.js';
import { eventually, fastPolicyFile } from '../helpers/stack.js';

const dialects = ['sqlite', 'postgres'] as const;

/**
 * The limiter as the app calls it, its clock held mid-window: these tests count concurrent
 * checks, and a run that straddles a window boundary (a loaded CI machine) would let the sliding
 * window's decay admit one more, as it should, and fail them by the clock.
 */
function atOneInstant(limiter: RateLimiter): RateLimiter {
  const now = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;
  return {
    take: (key, limit, windowMs) => limiter.take(key, limit, windowMs, now),
    peek: (key, limit, windowMs) => limiter.peek(key, limit, windowMs, now),
  };
}

describe.each(dialects)('rate limits shared through the database (%s)', (dialect) => {
  const opened: Db[] = [];
  let open: () => Db;
  let dir: string;
  let postgresUrl: string | undefined;
  let connection: Connection;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-limits-'));
    if (dialect === 'postgres') postgresUrl = await createTestDatabase(inject('postgresUrl'));
    open = () => {
      const db = postgresUrl ? openDatabase({ kind: 'postgres', url: postgresUrl }) : openDatabase({ kind: 'sqlite', file: path.join(dir, 'app.db') });
      opened.push(db);
      return db;
    };
    await migrateToLatest(open());
    connection = await Connection.connect({ address: inject('temporalAddress') });
  });

  afterAll(async () => {
    await connection?.close();
    for (const db of opened) await db.destroy();
    if (postgresUrl) await dropTestDatabase(postgresUrl);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('concurrent takes from two processes never count past the limit', async () => {
    const [a, b] = [new DatabaseRateLimiter(open()), new DatabaseRateLimiter(open())];
    const now = Date.now();
    const decisions = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).take('burst', 7, 60_000, now)));
    expect(decisions.filter((d) => d.ok)).toHaveLength(7);
    const refused = decisions.filter((d) => !d.ok);
    expect(refused).toHaveLength(17);
    for (const d of refused) expect(d.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((await a.peek('burst', 7, 60_000, now)).ok).toBe(false);
  });

  it.runIf(dialect === 'postgres')('peeks share reads, and a peek asked after a take sees it even while a read that started before the take is in flight', async () => {
    const writer = new DatabaseRateLimiter(open());
    const held: (() => void)[] = [];
    let hold = false;
    let reads = 0;
    // the database as an API process opens it, each read's result held while the test says so
    const observed = open().withPlugin({
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        reads++;
        if (hold) await new Promise<void>((release) => held.push(release));
        return args.result;
      },
    });
    const reader = new DatabaseRateLimiter(observed);
    const now = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;
    // the budget check of 12 concurrent requests from 4 sources: the first read at once, the rest in one read after it
    await Promise.all(Array.from({ length: 12 }, (_, i) => reader.peek(`source-${i % 4}`, 5, 60_000, now)));
    expect(reads).toBe(2);

    hold = true;
    const before = reader.peek('late', 1, 60_000, now);
    await eventually(async () => held.length === 1);
    expect((await writer.take('late', 1, 60_000, now)).ok).toBe(true);
    const after = reader.peek('late', 1, 60_000, now);
    hold = false;
    held[0]!();
    expect((await before).ok).toBe(true); // read before the take
    expect((await after).ok).toBe(false); // asked after it: a read of its own, never the one in flight
  });

  it('the previous window still weighs on the next, as in memory, and expired windows are pruned', async () => {
    const shared = new DatabaseRateLimiter(open());
    const memory = new InMemoryRateLimiter();
    const windowMs = 60_000;
    const start = Math.floor(Date.now() / windowMs) * windowMs - 10 * windowMs;
    const replay = async (limiter: RateLimiter) => {
      const seen: boolean[] = [];
      for (let i = 0; i < 6; i++) seen.push((await limiter.take('slide', 5, windowMs, start + 50_000)).ok);
      // a quarter into the next window three quarters of the previous 5 still count: 3.75 + 1 > 5 refuses the second
      for (let i = 0; i < 2; i++) seen.push((await limiter.take('slide', 5, windowMs, start + windowMs + 15_000)).ok);
      return seen;
    };
    const expected = [true, true, true, true, true, false, true, false];
    expect(await replay(memory)).toEqual(expected);
    expect(await replay(shared)).toEqual(expected);
    expect(await pruneRateLimitWindows(opened.at(-1)!, Date.now())).toBeGreaterThanOrEqual(2);
    expect((await shared.peek('slide', 5, windowMs, start + windowMs + 15_000)).remaining).toBe(4);
  });

  it.each(['memory', 'database'] as const)('200 wrong credentials arriving together at one API (%s store): exactly the budget is checked, the rest refused unchecked', async (store) => {
    const db = open();
    const limiter = atOneInstant(store === 'memory' ? new InMemoryRateLimiter() : new DatabaseRateLimiter(db));
    const app = createApp({
      db,
      temporal: { client: new Client({ connection, namespace: 'default' }), taskQueue: 'unused' },
      policy: () => loadPolicyFile(fastPolicyFile),
      pickupKey: parseDataKey(generateDataKey()),
      logger: createLogger('silent'),
      limits: { authFailuresPerMinute: 10 },
      rateLimiter: limiter,
    });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => (await app.request('/v1/inbox', { headers: { authorization: `Bearer pat_${String(i).padStart(40, 'z')}` } })).status),
      );
      expect(statuses.filter((s) => s === 401)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(190);
    } finally {
      await db.deleteFrom('rate_limit_windows').execute(); // the next test starts this source's budget afresh
    }
  });

  it('two API processes on one database allow one budget of failed credentials, not one each', async () => {
    const policy = loadPolicyFile(fastPolicyFile);
    const appFor = (db: Db, rateLimiter?: RateLimiter) =>
      createApp({
        db,
        temporal: { client: new Client({ connection, namespace: 'default' }), taskQueue: 'unused' },
        policy: () => policy,
        pickupKey: parseDataKey(generateDataKey()),
        logger: createLogger('silent'),
        limits: { authFailuresPerMinute: 3 },
        rateLimiter,
      });
    const wrong = { headers: { authorization: `Bearer pat_${'x'.repeat(40)}` } };
    const statuses = async (apps: ReturnType<typeof appFor>[]) => {
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) seen.push((await apps[i % 2]!.request('/v1/inbox', wrong)).status);
      return seen;
    };
    // per process (the default on SQLite): each has its own three
    expect(await statuses([appFor(open()), appFor(open())])).toEqual([401, 401, 401, 401, 401, 401]);
    // shared: three in all, then every credential from that source is refused unchecked
    const db1 = open();
    const db2 = open();
    expect(await statuses([appFor(db1, atOneInstant(new DatabaseRateLimiter(db1))), appFor(db2, atOneInstant(new DatabaseRateLimiter(db2)))])).toEqual([401, 401, 401, 429, 429, 429]);
  });
});
