import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTransientDatabaseError, openDatabase, sqliteCommitStats } from '../../schema/db.js';
import { BUSY_WITHIN_MS, GroupRolledBack, MAX_GROUP } from '../../schema/sqlite-group-commit.js';

/**
 * Group commit (schema/sqlite-group-commit.ts) on a real SQLite file: transactions that queue for
 * the connection share one COMMIT, and none is answered before that COMMIT. "Committed" is what
 * another connection to the file (the other process's view) reads.
 */
type Rows = { t: { id: string; v: string } };

describe('SQLite group commit', () => {
  let dir: string;
  let file: string;
  let db: Kysely<Rows>;
  let other: SQLite.Database;
  /** what another connection to the file sees committed */
  const committed = (id: string) => other.prepare('select count(*) as n from t where id = ?').get(id) as { n: number };
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-group-commit-'));
    file = path.join(dir, 'app.db');
    db = openDatabase({ kind: 'sqlite', file }) as unknown as Kysely<Rows>;
    await sql`create table t (id text primary key, v text not null)`.execute(db);
    other = new SQLite(file, { readonly: true });
  });

  afterEach(async () => {
    other.close();
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** a transaction that writes its row, lets other work run between statements, and reads it back */
  const write = (id: string, v = 'ok') =>
    db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id, v }).execute();
      await tick();
      return (await trx.selectFrom('t').select('v').where('id', '=', id).executeTakeFirstOrThrow()).v;
    });

  /**
   * A transaction that writes its row and then holds the connection until `release()`: what is
   * started meanwhile queues behind it (and joins its group).
   */
  const holding = async (id: string) => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const done = db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id, v: 'ok' }).execute();
      await held;
    });
    await tick();
    return { done, release };
  };

  it('concurrent transactions share COMMITs, and each is answered only once another connection reads it', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `row-${i}`);
    const seenAtAnswer = await Promise.all(ids.map((id) => write(id).then(() => committed(id).n)));
    expect(seenAtAnswer).toEqual(ids.map(() => 1));
    const stats = sqliteCommitStats(db as never)!;
    expect(stats.members).toBe(50);
    // grouped (fewer COMMITs than transactions), and no group larger than the cap
    expect(stats.groups).toBeLessThan(50);
    expect(stats.groups).toBeGreaterThanOrEqual(Math.ceil(50 / MAX_GROUP));
  });

  it('under a steady stream of COMMITs, a transaction started in the next turn of the event loop joins the group before it commits', async () => {
    await write('warm-up');
    const before = { ...sqliteCommitStats(db as never)! };
    let second: Promise<unknown> | undefined;
    // the second starts from a callback of its own, as each local activity does: nothing is queued
    // for the connection when the first commits
    setImmediate(() => (second = write('second').then(() => committed('second').n)));
    const first = await db
      .transaction()
      .execute((trx) => trx.insertInto('t').values({ id: 'first', v: 'ok' }).execute())
      .then(() => committed('first').n);
    expect(first).toBe(1);
    expect(await second).toBe(1);
    const after = sqliteCommitStats(db as never)!;
    expect({ groups: after.groups - before.groups, members: after.members - before.members }).toEqual({ groups: 1, members: 2 });
    // and at a lower rate a COMMIT happens at once
    await new Promise((resolve) => setTimeout(resolve, BUSY_WITHIN_MS + 10));
    const alone = { ...sqliteCommitStats(db as never)! };
    await write('alone');
    expect(sqliteCommitStats(db as never)!.groups - alone.groups).toBe(1);
  });

  it('a member that fails rolls back alone; the others of its group commit', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        db.transaction().execute(async (trx) => {
          await trx.insertInto('t').values({ id: `m-${i}`, v: 'ok' }).execute();
          await tick();
          if (i === 3) throw new Error('member 3 refuses');
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((outcomes[3] as PromiseRejectedResult).reason.message).toBe('member 3 refuses');
    expect(Array.from({ length: 8 }, (_, i) => committed(`m-${i}`).n)).toEqual([1, 1, 1, 0, 1, 1, 1, 1]);
    expect(sqliteCommitStats(db as never)!.members).toBe(7);
  });

  it('a write outside a transaction never joins an open group: it is committed when it is answered', async () => {
    // the first transaction holds the connection until the others are queued behind it
    const { done: first, release } = await holding('first');
    const second = write('second');
    const plain = db.insertInto('t').values({ id: 'plain', v: 'ok' }).execute().then(() => committed('plain').n);
    // and one more behind it, so the connection goes on to a transaction after the plain write
    const third = write('third');
    await tick();
    release();
    expect(await plain).toBe(1);
    await Promise.all([first, second, third]);
    expect([committed('first').n, committed('second').n, committed('third').n]).toEqual([1, 1, 1]);
  });

  it('when SQLite rolls the whole transaction back, every member of the group fails, none is committed, and the next group works', async () => {
    // RAISE(ROLLBACK) ends the whole database transaction, as a full disk or an I/O error does
    await sql`create trigger boom before insert on t when new.v = 'boom' begin select raise(rollback, 'boom'); end`.execute(db);
    const { done: first, release } = await holding('innocent');
    const culprit = write('culprit', 'boom');
    await tick();
    release();
    const [a, b] = await Promise.allSettled([first, culprit]);
    expect(a.status).toBe('rejected');
    expect((a as PromiseRejectedResult).reason).toBeInstanceOf(GroupRolledBack);
    // its own work was fine: the API answers it 503 + Retry-After, like a busy database
    expect(isTransientDatabaseError((a as PromiseRejectedResult).reason)).toBe(true);
    expect(b.status).toBe('rejected');
    expect((b as PromiseRejectedResult).reason.message).toMatch(/boom/);
    expect([committed('innocent').n, committed('culprit').n]).toEqual([0, 0]);
    await write('after');
    expect(committed('after').n).toBe(1);
  });

  it('a COMMIT that fails fails every member of the group, each with its error, and commits none', async () => {
    // a deferred foreign key is checked at COMMIT: the group's COMMIT fails with one member's violation
    await sql`create table parent (id text primary key)`.execute(db);
    await sql`create table child (id text primary key, parent text references parent(id) deferrable initially deferred)`.execute(db);
    const { done: first, release } = await holding('fine');
    const orphan = db.transaction().execute(async (trx) => {
      await sql`insert into child (id, parent) values ('c', 'missing')`.execute(trx);
    });
    await tick();
    release();
    const outcomes = await Promise.allSettled([first, orphan]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    for (const o of outcomes) expect((o as PromiseRejectedResult).reason.code).toBe('SQLITE_CONSTRAINT_FOREIGNKEY');
    expect(committed('fine').n).toBe(0);
    await write('after');
    expect(committed('after').n).toBe(1);
  });
});
