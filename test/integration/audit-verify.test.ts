/**
 * The audit chain check on a real SQLite file, with writers on other connections (as the worker and
 * other API processes are): a healthy chain that grows during the check is never reported broken,
 * and a real edit, deletion or stray row is reported with the sequence number where it is.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { appendAudit, verifyAuditChain, type ChainVerification } from '../../schema/repositories/audit.js';
import { migrateToLatest, openDatabase, type Db } from '../../schema/db.js';

const opened: Db[] = [];
const dirs: string[] = [];

/** A migrated database file and two connections to it: one that writes, one that verifies. */
async function database(): Promise<{ writer: Db; verifier: Db }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-audit-'));
  dirs.push(dir);
  const file = path.join(dir, 'app.db');
  const writer = openDatabase({ kind: 'sqlite', file });
  const verifier = openDatabase({ kind: 'sqlite', file });
  opened.push(writer, verifier);
  await migrateToLatest(writer);
  return { writer, verifier };
}

afterEach(async () => {
  for (const db of opened.splice(0)) await db.destroy();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

let eventCounter = 0;
/** One event in its own transaction, as every writer of the product appends. */
const append = (db: Db, partnerId = 'P0000001') =>
  db.transaction().execute((trx) =>
    appendAudit(trx, {
      eventKey: `test:${++eventCounter}`,
      at: new Date().toISOString(),
      actor: 'system:test',
      action: 'test.appended',
      partnerId,
      reason: `event ${eventCounter}`,
      details: { n: eventCounter },
    }),
  );

async function appendMany(db: Db, count: number) {
  for (let i = 0; i < count; i++) await append(db);
}

describe('verifyAuditChain on one consistent view', () => {
  it('never reports a healthy chain broken while other connections append to it', async () => {
    // The verifier reads on a connection of its own, as the API's route does while the worker writes.
    // (Writers share one connection: better-sqlite3 is synchronous, so a second writing connection
    // in this process would wait for the lock while blocking the thread that holds it.)
    const { writer, verifier } = await database();
    await appendMany(writer, 50);

    let writing = true;
    // Three concurrent appenders: Kysely queues their transactions on the writer's connection.
    const writersDone = Promise.all([1, 2, 3].map(() => appendMany(writer, 100))).finally(() => {
      writing = false;
    });
    const checks: ChainVerification[] = [];
    // Each check gives the event loop a turn, as any reader in another request or process does: a
    // loop of reads that resolve in microtasks alone would starve the writers' group commits,
    // which wait a turn for more members (schema/sqlite-group-commit.ts).
    while (writing) {
      checks.push(await verifyAuditChain(verifier));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writersDone;

    const alarms = checks.filter((c) => !c.ok);
    expect(alarms, JSON.stringify(alarms.slice(0, 3))).toEqual([]);
    // the checks really ran while the chain grew: they saw different heads
    expect(new Set(checks.map((c) => c.headSeq)).size).toBeGreaterThan(5);
    // each check covers exactly the snapshot it names
    for (const c of checks) expect(c.events).toBe(c.headSeq);
    expect(await verifyAuditChain(verifier)).toEqual({ ok: true, events: 350, headSeq: 350 });
  }, 60_000);

  it('an edited event is reported at its sequence number, also while others append', async () => {
    const { writer, verifier } = await database();
    await appendMany(writer, 20);
    // What an attacker holding the file can do: lift the append-only guard and edit a row.
    await sql`DROP TRIGGER audit_events_no_update`.execute(writer);
    await sql`UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 7`.execute(writer);

    const appending = appendMany(writer, 100);
    const during = await verifyAuditChain(verifier);
    await appending;
    expect(during).toMatchObject({ ok: false, brokenAt: 7, problem: 'hash mismatch' });
    expect(await verifyAuditChain(verifier)).toMatchObject({ ok: false, brokenAt: 7, problem: 'hash mismatch', headSeq: 120 });
  });

  it('a deleted event is reported as missing at its sequence number', async () => {
    const { writer: db, verifier } = await database();
    await appendMany(db, 12);
    await sql`DROP TRIGGER audit_events_no_delete`.execute(db);
    await sql`DELETE FROM audit_events WHERE seq = 5`.execute(db);
    expect(await verifyAuditChain(verifier)).toMatchObject({ ok: false, brokenAt: 5, problem: 'missing event' });
  });

  it('a cut-off tail (the head still counts the deleted events) is reported', async () => {
    const { writer: db, verifier } = await database();
    await appendMany(db, 12);
    await sql`DROP TRIGGER audit_events_no_delete`.execute(db);
    await sql`DELETE FROM audit_events WHERE seq > 9`.execute(db);
    expect(await verifyAuditChain(verifier)).toMatchObject({ ok: false, brokenAt: 10, problem: 'missing event', headSeq: 12 });
  });

  it('an event written past the head (not through appendAudit) is reported', async () => {
    const { writer: db, verifier } = await database();
    await appendMany(db, 3);
    const last = await db.selectFrom('audit_events').selectAll().where('seq', '=', 3).executeTakeFirstOrThrow();
    await db
      .insertInto('audit_events')
      .values({ ...last, seq: 4, event_key: 'forged', prev_hash: last.hash, hash: last.hash })
      .execute();
    expect(await verifyAuditChain(verifier)).toMatchObject({ ok: false, brokenAt: 4, headSeq: 3, problem: 'event beyond the head' });
  });

  it('an empty chain is whole', async () => {
    const { verifier } = await database();
    expect(await verifyAuditChain(verifier)).toEqual({ ok: true, events: 0, headSeq: 0 });
  });
});
