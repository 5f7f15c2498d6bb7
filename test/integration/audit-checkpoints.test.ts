/**
 * An audit trail nobody can rewrite alone (issue #16, item 7): the chain's head is checkpointed,
 * signed with a key outside the database, into a file outside it. An attacker with write access
 * to the database (triggers dropped, events edited and re-hashed forward with the project's own
 * hash function, the head reset) makes the database consistent in itself — verifyAuditChain alone
 * says ok — but `/v1/audit/verify` holds it against the checkpoints and says what happened.
 */
import fs from 'node:fs';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAuditEvent, eventHash, verifyAuditChain } from '../../schema/repositories/audit.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let auditor: string;

beforeEach(async () => {
  stack = await startStack({ noWorker: true });
  auditor = await stack.operator('aud', ['auditor']); // event 1: the operator's creation
  for (let i = 1; i <= 12; i++) {
    await appendAuditEvent(stack.db, { eventKey: `e${i}`, at: new Date().toISOString(), actor: 'operator:aud', action: 'test.event', partnerId: null, reason: `event ${i}` });
  }
});
afterEach(() => stack?.stop());

const verify = async () => (await stack.call('GET', '/v1/audit/verify', { token: auditor })).json;

/** What an attacker with the database does: no triggers, a changed event, every later hash recomputed, the head moved. */
async function rewrite(opts: { edit?: number; keepUpTo?: number }) {
  const db = stack.db;
  await sql`DROP TRIGGER IF EXISTS audit_events_no_update`.execute(db);
  await sql`DROP TRIGGER IF EXISTS audit_events_no_delete`.execute(db);
  if (opts.keepUpTo !== undefined) await db.deleteFrom('audit_events').where('seq', '>', opts.keepUpTo).execute();
  if (opts.edit !== undefined) await db.updateTable('audit_events').set({ reason: 'nothing to see' }).where('seq', '=', opts.edit).execute();
  const rows = await db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
  let prev = '0'.repeat(64);
  for (const { hash: _hash, prev_hash: _prev, ...rest } of rows) {
    const hash = eventHash(prev, rest);
    await db.updateTable('audit_events').set({ prev_hash: prev, hash }).where('seq', '=', rest.seq).execute();
    prev = hash;
  }
  await db.updateTable('audit_head').set({ seq: rows.at(-1)!.seq, hash: prev }).where('id', '=', 1).execute();
  // the attack works against the chain alone
  expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
}

describe('signed checkpoints of the audit chain', () => {
  it('a checkpoint is written when the head moves, signed, into a file only the service user reads; verify reports it', async () => {
    const first = await stack.auditCheckpoints.write(stack.db);
    expect(first).toMatchObject({ seq: 13, mac: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await stack.auditCheckpoints.write(stack.db)).toBeUndefined(); // nothing moved
    await appendAuditEvent(stack.db, { eventKey: 'e13', at: new Date().toISOString(), actor: 'operator:aud', action: 'test.event', partnerId: null });
    expect(await stack.auditCheckpoints.write(stack.db)).toMatchObject({ seq: 14 });
    expect(stack.auditCheckpoints.read().map((c) => c.seq)).toEqual([13, 14]);
    const file = `${stack.dir}/audit-checkpoints.ndjson`;
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(await verify()).toMatchObject({ ok: true, headSeq: 14, checkpoint: { seq: 14 } });
  });

  it('an event edited and the chain re-hashed forward: refused as rewritten', async () => {
    await stack.auditCheckpoints.write(stack.db);
    await rewrite({ edit: 7 });
    expect(await verify()).toMatchObject({ ok: false, brokenAt: 13, problem: expect.stringMatching(/does not match the signed checkpoint.*rewritten/) });
  });

  it('the checkpoint writer never signs a rewritten chain, not even one grown past the last checkpoint', async () => {
    await stack.auditCheckpoints.write(stack.db);
    await rewrite({ edit: 7 });
    // the attacker appends (as the product would) so the head moves on, and waits for the next checkpoint
    await appendAuditEvent(stack.db, { eventKey: 'after', at: new Date().toISOString(), actor: 'operator:aud', action: 'test.event', partnerId: null });
    await expect(stack.auditCheckpoints.write(stack.db)).rejects.toThrow(/no longer extends the checkpoint at seq 13/);
    expect(stack.auditCheckpoints.read().map((c) => c.seq)).toEqual([13]);
    expect(await verify()).toMatchObject({ ok: false, problem: expect.stringMatching(/rewritten/) });
  });

  it('the chain truncated below the checkpoint, or its head event deleted: refused as truncated', async () => {
    await stack.auditCheckpoints.write(stack.db);
    await rewrite({ keepUpTo: 12 }); // the head event gone, the head moved back one
    expect(await verify()).toMatchObject({ ok: false, headSeq: 12, problem: expect.stringMatching(/before the signed checkpoint at 13 \(truncated\)/) });
    await rewrite({ keepUpTo: 4 });
    expect(await verify()).toMatchObject({ ok: false, headSeq: 4, problem: expect.stringMatching(/truncated/) });
  });

  it('a checkpoint the attacker writes for the rewritten head is not signed with the key, and says so', async () => {
    await stack.auditCheckpoints.write(stack.db);
    await rewrite({ edit: 3 });
    const head = await stack.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    fs.appendFileSync(`${stack.dir}/audit-checkpoints.ndjson`, `${JSON.stringify({ seq: head.seq, hash: head.hash, at: new Date().toISOString(), mac: 'ab'.repeat(32) })}\n`);
    expect(await verify()).toMatchObject({ ok: false, problem: expect.stringMatching(/not signed with this deployment's key/) });
  });
});
