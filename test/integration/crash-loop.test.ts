import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { verifyAuditChain } from '../../schema/repositories/audit.js';
import { freePort } from '../../runtime/dev-server.js';
import { baseSubmission, partnerRow } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

/**
 * kill -9 at random moments, over and over, while partners are approved (issuance), rotate and
 * recertify; then every partner must end where it should with exactly its keys and records.
 * CRASH_KILLS raises the count for the long variant (default 20, CI's).
 *
 * Longer than our ~300-line mark: the loop, its checks and its process handling belong together.
 */
const KILLS = Number(process.env.CRASH_KILLS ?? 20);
const PARTNERS = Number(process.env.CRASH_PARTNERS ?? 4);
const root = path.resolve(import.meta.dirname, '../..');

/** A seeded generator: a failing run can be repeated with CRASH_SEED. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

let stack: Stack;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({
    noWorker: true,
    policyOverrides: { recertifyEvery: '3s', recertReminders: ['2s'], suspendedGrace: '2 minutes', rotationOverlap: '1s', approvalTimeout: '5 minutes', escalateAfter: '4 minutes', approvalReminders: [] },
    appOverrides: { updateDeadlineMs: 3000 },
  });
  t.alice = await stack.operator('alice', ['approver']);
}, 60_000);
afterAll(() => stack?.stop());

/** Calls until the answer is not a 503: a decision unconfirmed by a dead worker may have applied, so `done` is checked first. */
async function persist(done: () => Promise<boolean>, call: () => Promise<{ status: number; text: string }>, ok: number[]) {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await done()) return;
    const res = await call();
    if (ok.includes(res.status)) return;
    if (res.status !== 503 && res.status !== 409) throw new Error(`unexpected ${res.status}: ${res.text}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('gave up');
}

/** The API as its own OS process (`npm run api`'s entry point) on a free port, against this file's stack. */
async function apiProcess() {
  const port = await freePort();
  const env = {
    ...process.env,
    PORT: String(port),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    DATABASE_URL: stack.databaseUrl,
    POLICY_FILE: stack.policyFile,
    PICKUP_KEY: stack.pickupKeyHex,
    PAYLOAD_KEYS: stack.payloadKeys,
    DATA_DIR: stack.dir,
    LOG_LEVEL: 'warn',
    // the limiter is not what this test is about: without this, most of its time is spent on 429s
    RATE_LIMIT_ONBOARDING_PER_MINUTE: '100000',
  };
  const startApi = () => spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'api-main.ts')], { cwd: root, env, stdio: 'ignore' });
  return { port, startApi };
}

describe('crash loop: the worker killed with SIGKILL again and again', () => {
  it(`${KILLS} kills during issuance, rotation and recertification lose and duplicate nothing`, async () => {
    const rand = random(Number(process.env.CRASH_SEED ?? 20261123));
    let worker: ChildProcess = stack.spawnWorkerProcess();
    let kills = 0;
    let killing = true;
    const killer = (async () => {
      while (killing && kills < KILLS) {
        await new Promise((r) => setTimeout(r, 300 + rand() * 1500));
        if (!killing) break;
        worker.kill('SIGKILL');
        await new Promise((r) => worker.once('exit', r));
        kills++;
        worker = stack.spawnWorkerProcess();
      }
    })();

    const journeys = Array.from({ length: PARTNERS }, async (_, i) => {
      const created = await stack.call('POST', '/v1/partners', { body: { ...baseSubmission, name: `Crash ${i}` } });
      expect(created.status).toBe(202);
      const { partnerId, requestToken } = created.json as { partnerId: string; requestToken: string };
      const row = () => partnerRow(stack, partnerId);
      await eventually(async () => (await row()).transition_seq >= 1, 60_000, 200);

      await persist(
        async () => (await row()).state === 'active',
        () => stack.call('POST', `/v1/partners/${partnerId}/decisions`, { token: t.alice, body: { decision: 'approve', reason: 'ok' } }),
        [200],
      );
      const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
      expect(pickup.status, pickup.text).toBe(200);
      const key1 = pickup.json.apiKey as string;

      const keyCount = async () => (await stack.db.selectFrom('credentials').select('key_id').where('partner_id', '=', partnerId).execute()).length;
      await persist(async () => (await keyCount()) === 2, () => stack.call('POST', `/v1/partners/${partnerId}/credentials/rotate`, { token: key1 }), [200, 410]);

      for (const cycle of [0, 1]) {
        await eventually(async () => ['recertification_due', 'suspended'].includes((await row()).state) || (await row()).recert_cycle > cycle, 60_000, 200);
        await persist(
          async () => (await row()).recert_cycle > cycle,
          () => stack.call('POST', `/v1/partners/${partnerId}/recertifications`, { token: t.alice, body: { decision: 'keep', reason: `cycle ${cycle}` } }),
          [200],
        );
      }
      await persist(
        async () => (await row()).state === 'offboarded',
        () => stack.call('POST', `/v1/partners/${partnerId}/offboarding`, { token: t.alice, body: { reason: 'done' } }),
        [200],
      );
      return partnerId;
    });

    const ids = await Promise.all(journeys);
    killing = false;
    await killer;
    try {
      expect(kills).toBeGreaterThanOrEqual(Math.min(KILLS, 10));
      for (const partnerId of ids) {
        const result = await stack.client.workflow.getHandle(`partner-${partnerId}`).result();
        expect(result.state).toBe('offboarded');
        const keys = await stack.db.selectFrom('credentials').select(['version', 'status']).where('partner_id', '=', partnerId).orderBy('version').execute();
        expect(keys).toEqual([
          { version: 1, status: 'revoked' },
          { version: 2, status: 'revoked' },
        ]);
        const decisions = await stack.db.selectFrom('decisions').select('decision').where('partner_id', '=', partnerId).execute();
        expect(decisions).toEqual([{ decision: 'approve' }]);
        const recerts = await stack.db.selectFrom('recertifications').select('cycle').where('partner_id', '=', partnerId).orderBy('cycle').execute();
        expect(recerts).toEqual([{ cycle: 0 }, { cycle: 1 }]);
        const actions = (await stack.db.selectFrom('audit_events').select('action').where('partner_id', '=', partnerId).execute()).map((a) => a.action);
        for (const once of ['partner.submitted', 'approval.granted', 'partner.activated', 'credential.rotated', 'credential.retired', 'partner.offboarded']) {
          expect(actions.filter((a) => a === once), `${partnerId} ${once}`).toHaveLength(1);
        }
        expect(actions.filter((a) => a === 'credential.issued')).toHaveLength(2);
      }
      expect((await verifyAuditChain(stack.db)).ok).toBe(true);
      process.stdout.write(`crash loop: ${kills} worker kills, ${ids.length} partners, all consistent\n`);
    } finally {
      worker.kill('SIGKILL');
    }
  }, 600_000);
});

describe('crash loop: the API process killed during submissions', () => {
  it('an acknowledged submission is never lost; a retry with the same Idempotency-Key is not duplicated', async () => {
    const rand = random(7);
    const { port, startApi } = await apiProcess();
    let api = startApi();
    let apiKills = 0;
    const kill = async () => {
      api.kill('SIGKILL');
      await new Promise((r) => api.once('exit', r));
      apiKills++;
      api = startApi();
    };
    /** One attempt; undefined when the API is down or dies under the request. */
    const post = async (key: string) => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v1/partners`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ ...baseSubmission, name: key }),
          signal: AbortSignal.timeout(5000),
        });
        return { status: res.status, json: (await res.json()) as { partnerId: string; requestToken: string; state: string } };
      } catch {
        return undefined;
      }
    };
    /**
     * Retries with the same key until the API answers something other than "retry later" (429,
     * 503). The time allowed is generous: a restarted API takes seconds to start on a loaded machine.
     */
    const submitUntilAnswered = async (key: string, killAtRandom: boolean) => {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        if (killAtRandom && rand() < 0.15 && apiKills < 10) await kill();
        const answer = await post(key);
        if (answer && answer.status !== 429 && answer.status !== 503) return answer;
        await new Promise((r) => setTimeout(r, answer ? 1000 : 200));
      }
      throw new Error(`no answer for ${key}`);
    };

    const acknowledged = new Map<string, { partnerId: string; requestToken: string }>();
    const keys = Array.from({ length: 60 }, (_, i) => `crash-submit-${i}`);
    for (const key of keys) {
      const first = await submitUntilAnswered(key, true);
      expect(first.status, key).toBe(202);
      acknowledged.set(key, { partnerId: first.json.partnerId, requestToken: first.json.requestToken });
      // the same request again, as a client that lost the answer would send it: the same partner
      const again = await submitUntilAnswered(key, false);
      expect(again.status, key).toBe(202);
      expect({ partnerId: again.json.partnerId, requestToken: again.json.requestToken }, key).toEqual(acknowledged.get(key));
    }
    // and after one more kill, every key from a fresh process
    await kill();
    for (const [key, original] of acknowledged) {
      const again = await submitUntilAnswered(key, false);
      expect(again.status, key).toBe(202);
      expect({ partnerId: again.json.partnerId, requestToken: again.json.requestToken }, key).toEqual(original);
    }
    api.kill('SIGTERM');
    expect(apiKills).toBeGreaterThanOrEqual(5);
    expect(acknowledged.size).toBe(keys.length);
    for (const [key, { partnerId }] of acknowledged) {
      const rows = await stack.db.selectFrom('partners').select('id').where('name', '=', key).execute();
      expect(rows, key).toEqual([{ id: partnerId }]);
      const description = await stack.client.workflow.getHandle(`partner-${partnerId}`).describe();
      expect(description.type).toBe('partnerLifecycle');
    }
    process.stdout.write(`API crash loop: ${apiKills} API kills, ${acknowledged.size} submissions, none lost or doubled, every replay the same partner\n`);
  }, 300_000);
});

describe('crash loop: the API process killed during decisions', () => {
  it('an acknowledged approval is never lost; a decision cut off mid-flight applies at most once', async () => {
    const rand = random(11);
    const { port, startApi } = await apiProcess();
    await stack.startWorker();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await stack.call('POST', '/v1/partners', { body: { ...baseSubmission, name: `Decided under fire ${i}` } });
      expect(res.status).toBe(202);
      ids.push(res.json.partnerId as string);
    }
    await eventually(async () => (await Promise.all(ids.map((id) => partnerRow(stack, id)))).every((r) => r.transition_seq >= 1), 30_000);

    let api = startApi();
    let apiKills = 0;
    const kill = async () => {
      api.kill('SIGKILL');
      await new Promise((r) => api.once('exit', r));
      apiKills++;
      api = startApi();
    };
    try {
      for (const id of ids) {
        for (let attempt = 0; (await partnerRow(stack, id)).state !== 'active'; attempt++) {
          if (attempt > 100) throw new Error(`no approval for ${id}`);
          const request = fetch(`http://127.0.0.1:${port}/v1/partners/${id}/decisions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${t.alice}` },
            body: JSON.stringify({ decision: 'approve', reason: 'under fire' }),
            signal: AbortSignal.timeout(8000),
          }).then(
            async (res) => ({ status: res.status, body: await res.text() }),
            () => undefined, // the API died with the request: its fate is read from the partner
          );
          // a kill while the request is in flight: before, during or after the Update
          if (rand() < 0.4 && apiKills < 6) {
            await new Promise((r) => setTimeout(r, rand() * 400));
            await kill();
          }
          const answer = await request;
          if (answer) expect([200, 409, 503], answer.body).toContain(answer.status);
          if (answer?.status === 200) expect((await partnerRow(stack, id)).state).toBe('active');
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      api.kill('SIGKILL');
    }
    expect(apiKills).toBeGreaterThanOrEqual(2);
    for (const id of ids) {
      expect(await stack.db.selectFrom('decisions').select(['stage', 'decision']).where('partner_id', '=', id).execute()).toEqual([{ stage: 'sponsor', decision: 'approve' }]);
      expect(await stack.db.selectFrom('credentials').select('version').where('partner_id', '=', id).execute()).toEqual([{ version: 1 }]);
      const actions = (await stack.db.selectFrom('audit_events').select('action').where('partner_id', '=', id).execute()).map((a) => a.action);
      expect(actions.filter((a) => a === 'approval.granted')).toHaveLength(1);
      expect(actions.filter((a) => a === 'credential.issued')).toHaveLength(1);
    }
    expect((await verifyAuditChain(stack.db)).ok).toBe(true);
    await stack.stopWorker();
    process.stdout.write(`API crash loop: ${apiKills} API kills during ${ids.length} approvals, each applied exactly once\n`);
  }, 300_000);
});

describe('a submission committed just before a crash', () => {
  it('is started by the API’s resume loop: nothing committed is left behind', async () => {
    const { resumeUnstartedSubmissions } = await import('../../api/submissions.js');
    const id = 'CrashBeforeStart1';
    const now = new Date(Date.now() - 60_000).toISOString();
    // the row as POST /v1/partners commits it, with the process gone before the workflow start
    await stack.db
      .insertInto('partners')
      .values({
        id, name: 'Orphan', contact_email: 'o@example.com', sponsor: 'alice', requested_by: 'partner', environment: 'sandbox',
        scopes: '["orders:read"]', justification: 'j', state: 'pending_approval', stage: 'sponsor', escalated: 0,
        access_until: new Date(Date.now() + 3_600_000).toISOString(), next_deadline_at: null, next_deadline_action: null,
        policy_version: stack.policy.version, rate_limit_tier: 'standard', request_token_hash: '0'.repeat(64), recert_cycle: 0,
        last_certified_at: null, pending_extension: null, planned_offboarding: null, end_reason: null, ended_at: null,
        transition_seq: 0, created_at: now, updated_at: now,
      })
      .execute();
    await stack.startWorker();
    try {
      const resumed = await resumeUnstartedSubmissions({ db: stack.db, client: stack.client, taskQueue: stack.taskQueue, logger: stack.logger });
      expect(resumed).toBeGreaterThanOrEqual(1);
      await eventually(async () => (await partnerRow(stack, id)).transition_seq >= 1);
      expect((await stack.client.workflow.getHandle(`partner-${id}`).describe()).status.name).toBe('RUNNING');
      // once the worker has caught up (earlier tests in this file leave started, untouched rows
      // of their own), a pass finds nothing left to start
      const untouched = () => stack.db.selectFrom('partners').select('id').where('transition_seq', '=', 0).execute();
      await eventually(async () => (await resumeUnstartedSubmissions({ db: stack.db, client: stack.client, taskQueue: stack.taskQueue, logger: stack.logger })) === 0 && (await untouched()).length === 0, 60_000, 500);
      expect(await untouched()).toEqual([]);
    } finally {
      await stack.stopWorker();
    }
  });
});
