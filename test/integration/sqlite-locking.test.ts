import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../schema/db.js';

/**
 * The API and the worker write one SQLite file from two processes. A transaction that reads and
 * then writes while the other side holds the write lock must wait its turn, not fail with
 * SQLITE_BUSY (which surfaced as a 500 on revocation under onboarding load).
 */
describe('SQLite write transactions across connections', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-locking-'));
  const file = path.join(dir, 'app.db');
  let db: Db | undefined;

  afterAll(async () => {
    await db?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Another connection (its own thread, like the other process) writes and holds the lock for holdMs. */
  function holdWriteLock(holdMs: number): Promise<{ released: Promise<void> }> {
    const worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const SQLite = require('better-sqlite3');
      const other = new SQLite(workerData.file);
      other.pragma('busy_timeout = 10000');
      other.exec('begin immediate');
      other.prepare('insert into counter (n) values (1000)').run();
      parentPort.postMessage('locked');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
      other.exec('commit');
      other.close();
      `,
      { eval: true, workerData: { file, holdMs } },
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

  it('a read-then-write transaction waits for the other writer and sees its row', async () => {
    db = openDatabase({ kind: 'sqlite', file });
    await sql`create table counter (n integer not null)`.execute(db);
    await sql`insert into counter (n) values (1)`.execute(db);

    const { released } = await holdWriteLock(300);
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
