import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../schema/db.js';
import { baseSubmission } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * The API and the worker write one SQLite file from two processes. A transaction that reads and
 * then writes while the other side holds the write lock must wait its turn, not fail with
 * SQLITE_BUSY (which surfaced as a 500 on revocation under onboarding load).
 */
/**
 * Another connection (its own thread, like the other process) takes the write lock, runs
 * `statement` if given, and holds the lock for holdMs before committing.
 */
function holdWriteLock(file: string, holdMs: number, statement?: string): Promise<{ released: Promise<void> }> {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const SQLite = require('better-sqlite3');
    const other = new SQLite(workerData.file);
    other.pragma('busy_timeout = 10000');
    other.exec('begin immediate');
    if (workerData.statement) other.prepare(workerData.statement).run();
    parentPort.postMessage('locked');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
    other.exec('commit');
    other.close();
    `,
    { eval: true, workerData: { file, holdMs, statement } },
  );
  const released = new Promise<void>((resolve, reject) => {
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`lock holder exited ${code}`))));
    worker.once('error', reject);
  });
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve({ released }));
    worker.once('error', reject);
  });
}

describe('SQLite write transactions across connections', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-locking-'));
  const file = path.join(dir, 'app.db');
  let db: Db | undefined;

  afterAll(async () => {
    await db?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a read-then-write transaction waits for the other writer and sees its row', async () => {
    db = openDatabase({ kind: 'sqlite', file });
    await sql`create table counter (n integer not null)`.execute(db);
    await sql`insert into counter (n) values (1)`.execute(db);

    const { released } = await holdWriteLock(file, 300, 'insert into counter (n) values (1000)');
    const started = Date.now();
    const total = await db.transaction().execute(async (trx) => {
      const before = await sql<{ total: number }>`select sum(n) as total from counter`.execute(trx);
      await sql`insert into counter (n) values (${before.rows[0]!.total})`.execute(trx);
      return before.rows[0]!.total;
    });
    await released;

    // the transaction began only after the other writer committed: it read 1 + 1000
    expect(total).toBe(1001);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    const rows = await sql<{ n: number }>`select n from counter order by rowid`.execute(db);
    expect(rows.rows.map((r) => r.n)).toEqual([1, 1000, 1001]);
  });
});

describe('a write that cannot get the lock within the busy timeout', () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('is a 503 with Retry-After, a problem body, and nothing stored', async () => {
    stack = await startStack({ noWorker: true, busyTimeoutMs: 100 });
    await stack.operator('alice', ['approver']);
    const { released } = await holdWriteLock(stack.dbFile, 1500);
    const res = await stack.app.request('/v1/partners', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...baseSubmission, name: 'Locked out' }),
    });
    await released;

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as { status: number; detail: string };
    expect(problem).toMatchObject({ status: 503, detail: 'the database is busy; nothing was changed, retry shortly' });
    expect(JSON.stringify(problem)).not.toMatch(/SQLITE|at .*\.ts/);
    expect(await stack.db.selectFrom('partners').select('id').execute()).toEqual([]);
    expect(stack.logLines.some((l) => l.includes('"database busy"'))).toBe(true);
  });
});
