import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { payloadDataConverter } from '../../runtime/payload-codec.js';
import { workflowIdFor } from '../../workflows/messages.js';
import { historiesOf, historyText } from '../helpers/histories.js';
import { activePartner, partnerRow, waitForState } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

/** Reviews open 1s before a due date 2s after each certification: ten cycles take ~10 s. */
let stack: Stack;
const t: Record<string, string> = {};
/** Plaintext keys handed out by any test of this file: the secret scan looks for all of them. */
const plaintextKeys: string[] = [];
const historiesDir = path.resolve(import.meta.dirname, '../fixtures/histories');
const { History } = temporal.api.history.v1;

/**
 * Replays histories with the bundle the workers run; every one must replay without error. The
 * codec decrypts with the stack's keys; the fixtures are plaintext (the lifecycle-run ones were
 * recorded before the codec, the others decrypted when recorded: each test run has keys of its
 * own), so it runs as in a migration (PAYLOAD_CODEC_ACCEPT_PLAINTEXT).
 */
async function expectReplays(histories: { workflowId: string; history: temporal.api.history.v1.IHistory }[]) {
  const workflowBundle = { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
  const dataConverter = payloadDataConverter({ ...stack.payloadKeyring, acceptPlaintext: true });
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle, dataConverter, replayName: 'lifecycle' }, histories)) {
    expect(result.error, `replay of ${result.workflowId}`).toBeUndefined();
    replayed.push(result.workflowId);
  }
  expect(replayed).toHaveLength(histories.length);
}

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: { recertifyEvery: '2s', recertReminders: ['1s'], suspendedGrace: '20s', rotationOverlap: '1s' },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
});
afterAll(() => stack?.stop());

const keepBody = { decision: 'keep', reason: 'still needed' };
const keep = (partnerId: string, body: Record<string, unknown> = keepBody) =>
  stack.call('POST', `/v1/partners/${partnerId}/recertifications`, { token: t.alice!, body });

describe('continue-as-new across recertification cycles', () => {
  it('ten cycles: each run’s history stays small and the state carries over exactly', async () => {
    const p = await activePartner(stack, { sponsor: t.alice!, security: t.sec! }, { scopes: ['orders:read', 'catalog:read', 'payments:read'] });
    plaintextKeys.push(p.apiKey);
    const firstKeyId = p.keyId;
    const firstRunId = (await stack.client.workflow.getHandle(workflowIdFor(p.partnerId)).describe()).runId;

    for (let cycle = 0; cycle < 10; cycle++) {
      await waitForState(stack, p.partnerId, 'recertification_due');
      const body = cycle === 3 ? { decision: 'narrow', scopes: ['orders:read', 'catalog:read'], reason: 'payments unused' } : undefined;
      const res = await keep(p.partnerId, body);
      expect(res.status, res.text).toBe(200);
      if (cycle === 5) {
        const rotated = await stack.call('POST', `/v1/partners/${p.partnerId}/credentials/rotate`, { token: p.apiKey });
        expect(rotated.status, rotated.text).toBe(200);
        plaintextKeys.push(rotated.json.apiKey);
        p.apiKey = rotated.json.apiKey;
        p.keyId = rotated.json.keyId;
      }
      await eventually(async () => (await partnerRow(stack, p.partnerId)).recert_cycle === cycle + 1);
    }
    const status = await eventually(async () => {
      const s = await stack.client.workflow.getHandle(workflowIdFor(p.partnerId)).query('status');
      return (s as { cycle: number }).cycle === 10 ? (s as any) : undefined;
    });
    expect(status).toMatchObject({ state: expect.stringMatching(/active|recertification_due/), cycle: 10, scopes: ['orders:read', 'catalog:read'] });
    expect(status.credentials.map((c: { keyId: string }) => c.keyId)).toEqual([p.keyId]);

    const runs = await historiesOf(stack.client, p.partnerId, firstRunId);
    expect(runs.length).toBeGreaterThanOrEqual(11);
    // One cycle per run: review opens (evidence, transition, notice), the answer (evidence, policy,
    // transition), their timers and the update; a rotation in the cycle adds issuance and retirement.
    const sizes = runs.slice(1).map(({ history }) => history.events!.length);
    expect(Math.max(...sizes)).toBeLessThan(100);
    // and it does not grow with the number of cycles behind it
    expect(sizes[8]!).toBeLessThanOrEqual(sizes[0]! + 5);
    const recerts = await stack.db.selectFrom('recertifications').select('cycle').where('partner_id', '=', p.partnerId).orderBy('cycle').execute();
    expect(recerts.map((r) => r.cycle)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Each cycle's review opened exactly once (the eleventh may already be open: it opens a second
    // after the tenth answer, whatever this test is doing).
    const openings = await stack.db
      .selectFrom('audit_events')
      .select('details')
      .where('partner_id', '=', p.partnerId)
      .where('action', '=', 'recertification.opened')
      .orderBy('seq')
      .execute();
    const openedCycles = openings.map((e) => (JSON.parse(e.details!) as { cycle: number }).cycle);
    expect(openedCycles.filter((c) => c < 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(openedCycles.filter((c) => c >= 10)).toEqual(openedCycles.length > 10 ? [10] : []);
    // Two issuances over ten cycles: the approval's key and the rotation's, each recorded once,
    // each naming the key that was really stored under its version.
    const issued = await stack.db
      .selectFrom('audit_events')
      .select('details')
      .where('partner_id', '=', p.partnerId)
      .where('action', '=', 'credential.issued')
      .orderBy('seq')
      .execute();
    const stored = await stack.db.selectFrom('credentials').select(['key_id', 'version']).where('partner_id', '=', p.partnerId).orderBy('version').execute();
    expect(issued.map((e) => JSON.parse(e.details!) as { keyId: string; version: number }).map((d) => [d.keyId, d.version])).toEqual([
      [firstKeyId, 1],
      [p.keyId, 2],
    ]);
    expect(stored.map((c) => [c.key_id, c.version])).toEqual([
      [firstKeyId, 1],
      [p.keyId, 2],
    ]);
    // This run's histories (continue-as-new, a narrowing, a rotation) replay with today's code.
    // under its own workflow id: the codec binds each payload to its workflow (another id reads as a forgery)
    await expectReplays(runs.map((run) => ({ workflowId: workflowIdFor(p.partnerId), history: run.history })));
    if (process.env.RECORD_HISTORIES === '1') {
      fs.mkdirSync(historiesDir, { recursive: true });
      // The first run (approval, issuance, first review) and two recertification runs (one with a rotation).
      for (const i of [0, 1, 6]) fs.writeFileSync(path.join(historiesDir, `lifecycle-run-${i}.pb`), History.encode(runs[i]!.history).finish());
    }
  }, 120_000);
});

describe('a worker killed in the middle of a cycle', () => {
  it('the cycle completes after a restart and nothing is duplicated', async () => {
    await stack.stopWorker();
    let child = stack.spawnWorkerProcess();
    try {
      const p = await (async () => {
        const { partnerId, requestToken } = await (await import('../helpers/partners.js')).submit(stack);
        // Kill the worker with the decision in flight, then bring it back.
        const pending = stack.call('POST', `/v1/partners/${partnerId}/decisions`, { token: t.alice!, body: { decision: 'approve', reason: 'ok' } });
        await new Promise((r) => setTimeout(r, 300));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        child = stack.spawnWorkerProcess();
        const res = await pending;
        // The update either completed before the kill or is answered 503; the approval is never lost.
        expect([200, 503]).toContain(res.status);
        if (res.status === 503) {
          await eventually(async () => (await partnerRow(stack, partnerId)).state === 'active', 30_000);
        }
        const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
        expect(pickup.status, pickup.text).toBe(200);
        plaintextKeys.push(pickup.json.apiKey);
        return { partnerId, apiKey: pickup.json.apiKey as string };
      })();

      // a worker that restarted late may fire the opening and the due date back to back
      await waitForState(stack, p.partnerId, ['recertification_due', 'suspended'], 30_000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // While no worker runs, the answer cannot be confirmed: 503 + Retry-After. Temporal holds the
      // admitted update, so it may still apply when a worker returns: a retry then finds it done.
      // the review answered is named (cycle 0): a retry that arrives after the held answer applied
      // and the next review opened is a 409, never a keep of that next review
      const keepFirst = { ...keepBody, cycle: 0 };
      const unconfirmed = await keep(p.partnerId, keepFirst);
      expect(unconfirmed.status).toBe(503);
      expect(unconfirmed.headers.get('retry-after')).toBeTruthy();
      expect((await partnerRow(stack, p.partnerId)).recert_cycle).toBe(0);
      child = stack.spawnWorkerProcess();
      // retried until it lands (or is found landed: the held one applied first)
      await eventually(async () => {
        if ((await partnerRow(stack, p.partnerId)).recert_cycle >= 1) return true;
        const r = await keep(p.partnerId, keepFirst);
        return r.status === 200 || (r.status === 409 && (await partnerRow(stack, p.partnerId)).recert_cycle >= 1);
      }, 30_000);
      const row = await partnerRow(stack, p.partnerId);
      expect(row.recert_cycle).toBe(1);
      const keys = await stack.db.selectFrom('credentials').select('key_id').where('partner_id', '=', p.partnerId).execute();
      expect(keys).toHaveLength(1);
      const recerts = await stack.db.selectFrom('recertifications').select('cycle').where('partner_id', '=', p.partnerId).execute();
      expect(recerts).toEqual([{ cycle: 0 }]);
      const trail = await stack.db.selectFrom('audit_events').select(['action', 'details']).where('partner_id', '=', p.partnerId).orderBy('seq').execute();
      // the kept cycle's steps (the fast policy opens the next review about a second after the keep)
      const steps = trail.filter((e) => e.action !== 'recertification.opened' || (JSON.parse(e.details!) as { cycle: number }).cycle === 0).map((e) => e.action);
      for (const action of ['partner.submitted', 'approval.granted', 'credential.issued', 'partner.activated', 'recertification.opened']) {
        // each step exactly once, however often the worker died around it
        expect(steps.filter((a) => a === action), action).toHaveLength(1);
      }
    } finally {
      child.kill('SIGKILL');
      await stack.startWorker();
    }
  }, 120_000);
});

/**
 * The recorded set: continue-as-new cycles with a narrowing and a rotation (lifecycle-run-*, from
 * the ten cycles' test above), and one partner per newer path, recorded at d739b54 by a test like
 * that one (see docs/LIFECYCLE.md, "Replay fixtures"): two-stage approval, rotation, an extension
 * through the security stage, planned offboarding; security's suspension and resumption, a rate-tier
 * change, a sponsor hand-over, an admin's offboarding; an emergency revocation and its verification;
 * a review opened under a drifted policy (a scope now high-risk) kept by security; a review never
 * answered, suspended, then offboarded after the grace. The same paths again, `-at-9f93fb5`: with
 * records as local activities and a review's evidence and policy read one after the other; and
 * `-at-c15b01c`: with the last approval, the first key and the activation in one local activity,
 * and a review's facts read by one local activity and its transition written by another (before
 * `review-opens-in-one-step`).
 */
const recordedHistories = [
  'emergency-revocation-at-9f93fb5-run-0.pb',
  'emergency-revocation-at-c15b01c-run-0.pb',
  'emergency-revocation-run-0.pb',
  'high-risk-extension-offboarding-at-9f93fb5-run-0.pb',
  'high-risk-extension-offboarding-at-c15b01c-run-0.pb',
  'high-risk-extension-offboarding-run-0.pb',
  'lifecycle-run-0.pb',
  'lifecycle-run-1.pb',
  'lifecycle-run-6.pb',
  'recert-drift-security-keep-at-9f93fb5-run-0.pb',
  'recert-drift-security-keep-at-c15b01c-run-0.pb',
  'recert-drift-security-keep-run-0.pb',
  'recert-unanswered-offboarded-at-9f93fb5-run-0.pb',
  'recert-unanswered-offboarded-at-c15b01c-run-0.pb',
  'recert-unanswered-offboarded-run-0.pb',
  'suspension-tier-handover-at-9f93fb5-run-0.pb',
  'suspension-tier-handover-at-c15b01c-run-0.pb',
  'suspension-tier-handover-run-0.pb',
];

describe('histories', () => {
  it('the recorded fixture histories replay deterministically with today’s code', async () => {
    const files = fs.readdirSync(historiesDir).filter((f) => f.endsWith('.pb'));
    // the recorded set (see RECORD_HISTORIES): a missing fixture must not pass as "nothing to replay"
    expect(files.sort()).toEqual(recordedHistories);
    await expectReplays(files.map((f) => ({ workflowId: f, history: History.decode(fs.readFileSync(path.join(historiesDir, f))) })));
  });

  it('no plaintext key appears in any workflow history, the database or the logs', async () => {
    // A key of its own, plus any the other tests of this file handed out (the ten cycles' test
    // adds a rotated key: its review timers are too short here for a rotation of our own to be safe).
    const p = await activePartner(stack, { sponsor: t.alice!, security: t.sec! }, { scopes: ['orders:read'] });
    plaintextKeys.push(p.apiKey);
    // Every run on this file's queue, and this partner's own run fetched directly (listing is
    // eventually consistent: the scan must not pass by not finding it).
    const histories = [await stack.client.workflow.getHandle(workflowIdFor(p.partnerId)).fetchHistory()];
    for await (const wf of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}"` })) {
      histories.push(await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
    }
    for (const history of histories) {
      const text = historyText(history, stack.payloadKeyring);
      for (const key of plaintextKeys) {
        expect(text.includes(key)).toBe(false);
        expect(text.includes(key.split('_')[3]!)).toBe(false); // not even the secret part
      }
    }
    // the scan reads what it should: this partner's history names its key by id (encrypted by the
    // payload codec: the scan decrypts with the stack's keys)
    expect(historyText(histories[0]!, stack.payloadKeyring)).toContain(p.keyId);
    const dump = fs.readFileSync(stack.dbFile).toString('latin1') + (fs.existsSync(`${stack.dbFile}-wal`) ? fs.readFileSync(`${stack.dbFile}-wal`).toString('latin1') : '');
    const logs = stack.logLines.join('');
    for (const key of plaintextKeys) {
      expect(dump.includes(key)).toBe(false);
      expect(logs.includes(key)).toBe(false);
    }
  });
});
