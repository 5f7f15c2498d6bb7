import SQLite from 'better-sqlite3';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redeliverPendingSignals, revokeInDatabase } from '../../api/commands.js';
import { freePort } from '../../runtime/dev-server.js';
import { startGatewayFor } from '../helpers/gateway.js';
import { localActivitiesOf } from '../helpers/histories.js';
import { decideUpdate, workflowIdFor } from '../../workflows/messages.js';
import { actions, activePartner, decide, partnerRow, submit, waitForAction, waitForState } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

/**
 * Commands that can meet, driven concurrently at several offsets on the real stack (dev server,
 * worker, SQLite, the Hono app; revocations verified through a real nginx). Whatever the
 * interleaving: no 5xx, a workflow that COMPLETED (never FAILED or stuck) in the state the rules
 * say, an audit trail that is complete and verifies, and no live key.
 *
 * Policy: two stages for the high-risk `payments:read`; escalation after 3 s; a review opens 1 s
 * after a certification and is due 3 s later.
 *
 * Longer than our ~300-line mark: every race shares one stack and its helpers, and reads best
 * next to the others.
 */
let stack: Stack;
let edge: Awaited<ReturnType<typeof startGatewayFor>>;
const t: Record<string, string> = {};
const probeSecret = 'probe-secret-for-race-tests-0123456789abcdef';
const twoStages = { scopes: ['orders:read', 'payments:read'] };
const REASON = 'key leaked on a public repo';

beforeAll(async () => {
  const gatewayPort = await freePort();
  stack = await startStack({
    policyOverrides: { recertifyEvery: '4s', recertReminders: ['3s'], suspendedGrace: '30s' },
    gatewayProbe: { url: `http://127.0.0.1:${gatewayPort}/orders/`, secret: probeSecret },
    // a loaded CI machine must not turn a slow answer into the 503 of "no worker in time"
    appOverrides: { updateDeadlineMs: 15_000 },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.bob = await stack.operator('bob', ['approver']);
  t.carol = await stack.operator('carol', ['approver', 'security']);
  t.sec = await stack.operator('sec', ['security']);
  t.sec2 = await stack.operator('sec2', ['security']);
  t.root = await stack.operator('root', ['admin']);
  t.auditor = await stack.operator('audrey', ['auditor']);
  t.gw = await stack.operator('edge', ['gateway']);
  edge = await startGatewayFor(stack, t.gw!, gatewayPort);
}, 60_000);
afterAll(async () => {
  await edge?.stop();
  await stack?.stop();
});

type Response = Awaited<ReturnType<Stack['call']>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const revoke = (partnerId: string) => stack.call('POST', `/v1/partners/${partnerId}/revocation`, { token: t.sec!, body: { reason: REASON } });
const introspect = async (key: string) => (await stack.call('POST', '/v1/introspect', { token: t.gw!, body: { token: key } })).json;

/** Runs `first` now and `second` `offsetMs` later; both answers, in that order. */
async function race(first: () => Promise<Response>, second: () => Promise<Response>, offsetMs: number): Promise<[Response, Response]> {
  const a = first();
  await sleep(offsetMs);
  return Promise.all([a, second()]);
}

function expectNo5xx(...responses: Response[]) {
  for (const r of responses) expect(r.status, r.text).toBeLessThan(500);
}

/** The workflow has closed: COMPLETED (not FAILED, not stuck) with the given outcome. */
async function expectCompleted(partnerId: string, state: string) {
  const handle = stack.client.workflow.getHandle(workflowIdFor(partnerId));
  const description = await eventually(async () => {
    const d = await handle.describe();
    return d.status.name === 'RUNNING' ? undefined : d;
  }, 30_000);
  expect(description.status.name, `workflow of ${partnerId}`).toBe('COMPLETED');
  expect((await handle.result()).state).toBe(state);
}

/** What a revocation must leave behind, however it met the other command. */
async function expectFullyRevoked(partnerId: string) {
  await expectCompleted(partnerId, 'revoked');
  const row = await partnerRow(stack, partnerId);
  expect(row.state).toBe('revoked');
  expect(row.end_reason).toBe(REASON);
  const trail = await actions(stack, partnerId);
  const requested = trail.indexOf('partner.revocation_requested');
  expect(requested, trail.join(' ')).toBeGreaterThanOrEqual(0);
  // after the request, only the workflow's clean-up: nothing else took effect once revoked
  expect(trail.slice(requested + 1), trail.join(' ')).toEqual(['partner.revoked', 'revocation.verified']);
  const notices = await stack.db.selectFrom('notifications').select('kind').where('partner_id', '=', partnerId).execute();
  expect(notices.map((n) => n.kind)).toContain('partner.revoked');
  const keys = await stack.db.selectFrom('credentials').select(['status']).where('partner_id', '=', partnerId).execute();
  expect(keys.every((k) => k.status === 'revoked')).toBe(true);
  // no one-time copy of any key is left to pick up
  const copies = await stack.db.selectFrom('credential_pickups').select('sealed').where('partner_id', '=', partnerId).execute();
  expect(copies.every((c) => c.sealed === null)).toBe(true);
  return trail;
}

async function expectChainVerifies() {
  const res = await stack.call('GET', '/v1/audit/verify', { token: t.auditor! });
  expect(res.status, res.text).toBe(200);
  expect(res.json.ok, res.text).toBe(true);
}

// Past 80 ms the revocation lands inside the other command's own steps (issuance, activation) or after it.
const offsets = [0, 5, 10, 20, 35, 50, 80, 120, 160, 220, 300, 450, 700];

/** Where in the other command's steps the revocation landed, from the audit trail. */
function landedAfter(trail: string[], steps: string[]): string {
  const before = trail.slice(0, trail.indexOf('partner.revocation_requested'));
  return [...steps].reverse().find((step) => before.filter((a) => a === step.split('#')[0]).length >= Number(step.split('#')[1] ?? 1)) ?? 'before it';
}

describe('approve (last stage) × emergency revocation', () => {
  it(`at offsets ${offsets.join(', ')} ms, three runs each: revoked with the whole clean-up, answers truthful`, async () => {
    const runs = 3;
    const seen: Record<string, number> = {};
    for (const offset of offsets) {
      await Promise.all(
        Array.from({ length: runs }, async () => {
          const { partnerId, requestToken } = await submit(stack, twoStages);
          const first = await decide(stack, partnerId, t.alice!, { decision: 'approve' });
          expect(first.status, first.text).toBe(200);
          expect(first.json.pendingStage).toBe('security');

          const [approved, revoked] = await race(
            () => decide(stack, partnerId, t.sec!, { decision: 'approve' }),
            () => revoke(partnerId),
            offset,
          );
          expectNo5xx(approved, revoked);
          expect(revoked.status, revoked.text).toBe(202);
          const trail = await expectFullyRevoked(partnerId);
          if (approved.status === 200) {
            // the approval completed first: the partner was active, then revoked
            expect(approved.json.state).toBe('active');
            expect(trail.indexOf('partner.activated')).toBeLessThan(trail.indexOf('partner.revocation_requested'));
          } else {
            expect(approved.status, approved.text).toBe(409);
            expect(approved.json.detail).toMatch(/revoked/);
            expect(trail.slice(0, trail.indexOf('partner.revocation_requested'))).not.toContain('partner.activated');
          }
          // whatever was minted in the race, the partner can never pick it up
          const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
          expect([401, 409, 410]).toContain(pickup.status);
          const outcome = `${approved.status} after ${landedAfter(trail, ['approval.granted#2', 'credential.issued', 'partner.activated'])}`;
          seen[outcome] = (seen[outcome] ?? 0) + 1;
        }),
      );
    }
    process.stdout.write(`approve × revoke interleavings: ${JSON.stringify(seen)}\n`);
    await expectChainVerifies();
  }, 240_000);
});

describe('rotate × emergency revocation', () => {
  const rotationOffsets = offsets;
  it(`at offsets ${rotationOffsets.join(', ')} ms, two runs each: 200 with a key that dies, or 409; never 410 or 5xx`, async () => {
    const seen: Record<string, number> = {};
    for (const offset of rotationOffsets) {
      await Promise.all(
        Array.from({ length: 2 }, async () => {
          const p = await activePartner(stack, { sponsor: t.alice! });
          const [rotated, revoked] = await race(
            () => stack.call('POST', `/v1/partners/${p.partnerId}/credentials/rotate`, { token: p.apiKey }),
            () => revoke(p.partnerId),
            offset,
          );
          expectNo5xx(rotated, revoked);
          expect(revoked.status, revoked.text).toBe(202);
          const keys = [p.apiKey];
          if (rotated.status === 200) keys.push(rotated.json.apiKey);
          else if (rotated.status !== 401) {
            // (401: the revocation committed before the rotation even authenticated its key)
            expect(rotated.status, rotated.text).toBe(409);
            expect(rotated.json.detail).toMatch(/revoked/);
          }
          const trail = await expectFullyRevoked(p.partnerId);
          for (const key of keys) expect(await introspect(key)).toEqual({ active: false, reason: 'revoked' });
          const outcome = `${rotated.status} after ${landedAfter(trail, ['credential.issued#2', 'credential.rotated'])}`;
          seen[outcome] = (seen[outcome] ?? 0) + 1;
        }),
      );
    }
    process.stdout.write(`rotate × revoke answers: ${JSON.stringify(seen)}\n`);
    await expectChainVerifies();
  }, 240_000);
});

describe('keep (recertification) × offboarding', () => {
  const keepOffsets = [0, 10, 30, 60];
  it(`at offsets ${keepOffsets.join(', ')} ms, both orders: offboarded, the keep answered 200 or 409`, async () => {
    const seen: Record<string, number> = {};
    await Promise.all(
      keepOffsets.flatMap((offset) =>
        [false, true].map(async (offboardFirst) => {
          const p = await activePartner(stack, { sponsor: t.alice! });
          await waitForState(stack, p.partnerId, 'recertification_due');
          const keep = () =>
            stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token: t.alice!, body: { decision: 'keep', reason: 'still needed' } });
          const offboard = () => stack.call('POST', `/v1/partners/${p.partnerId}/offboarding`, { token: p.requestToken, body: { reason: 'project over' } });
          const [kept, offboarded] = offboardFirst
            ? (await race(offboard, keep, offset)).reverse()
            : await race(keep, offboard, offset);
          expectNo5xx(kept!, offboarded!);
          expect([200, 409], kept!.text).toContain(kept!.status);
          expect(offboarded!.status, offboarded!.text).toBe(200);
          expect(offboarded!.json.state).toBe('offboarded');
          await expectCompleted(p.partnerId, 'offboarded');
          const row = await partnerRow(stack, p.partnerId);
          expect(row.state).toBe('offboarded');
          expect(row.end_reason).toBe('project over');
          const trail = await actions(stack, p.partnerId);
          expect(trail.at(-1)).toBe('partner.offboarded');
          expect(trail.filter((a) => a === 'recertification.kept')).toHaveLength(kept!.status === 200 ? 1 : 0);
          const notices = await stack.db.selectFrom('notifications').select('kind').where('partner_id', '=', p.partnerId).execute();
          expect(notices.map((n) => n.kind)).toContain('partner.offboarded');
          expect(await introspect(p.apiKey)).toEqual({ active: false, reason: 'revoked' });
          seen[`keep ${kept!.status}`] = (seen[`keep ${kept!.status}`] ?? 0) + 1;
        }),
      ),
    );
    process.stdout.write(`keep × offboard answers: ${JSON.stringify(seen)}\n`);
    await expectChainVerifies();
  }, 240_000);
});

describe('a keep read before its review closed (a retry of an unconfirmed answer, a stale form)', () => {
  it('answers that review only: with the next one open it is a 409 and the next review stays open', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const keep = () => stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token: t.alice!, body: { decision: 'keep', reason: 'still needed' } });
    await waitForState(stack, p.partnerId, 'recertification_due');
    expect((await keep()).status).toBe(200);
    await waitForState(stack, p.partnerId, 'recertification_due'); // cycle 1 open
    // The API read the row while cycle 0 was still open (the moment a held retry was admitted):
    // it pins the answer to cycle 0, and the workflow refuses to spend it on cycle 1.
    await stack.db.updateTable('partners').set({ recert_cycle: 0 }).where('id', '=', p.partnerId).execute();
    const late = await keep();
    await stack.db.updateTable('partners').set({ recert_cycle: 1 }).where('id', '=', p.partnerId).execute();
    expect(late.status, late.text).toBe(409);
    expect(late.json.detail).toBe('the review this answers (cycle 0) is closed; cycle 1 is open');
    // the review the reviewer was shown, named by the client (the console's form sends it)
    const shown = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token: t.alice!, body: { decision: 'keep', reason: 'still needed', cycle: 0 } });
    expect(shown.status, shown.text).toBe(409);
    expect(shown.json.detail).toBe('the review this answers (cycle 0) is closed; cycle 1 is open');
    expect((await partnerRow(stack, p.partnerId)).state).toBe('recertification_due');
    expect((await actions(stack, p.partnerId)).filter((a) => a === 'recertification.kept')).toHaveLength(1);
    expect((await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token: t.alice!, body: { decision: 'keep', reason: 'still needed', cycle: 1 } })).status).toBe(200);
  }, 60_000);

  it('a decision names the stage its approver was shown: a closed stage is a 409, never the next stage decided', async () => {
    const { partnerId } = await submit(stack, twoStages);
    expect((await decide(stack, partnerId, t.alice!, { decision: 'approve' })).status).toBe(200); // the sponsor stage
    // carol (approver and security) was shown the sponsor stage; it closed meanwhile
    const stale = await stack.call('POST', `/v1/partners/${partnerId}/decisions`, { token: t.carol!, body: { decision: 'approve', reason: 'ok', stage: 'sponsor' } });
    expect(stale.status, stale.text).toBe(409);
    expect(stale.json.detail).toBe('the sponsor stage was already decided; nothing was changed');
    expect((await partnerRow(stack, partnerId)).stage).toBe('security');
    const shown = await stack.call('POST', `/v1/partners/${partnerId}/decisions`, { token: t.carol!, body: { decision: 'approve', reason: 'ok', stage: 'security' } });
    expect(shown.status, shown.text).toBe(200);
    expect(shown.json.state).toBe('active');
  }, 60_000);
});

describe('two approvers at once', () => {
  it('two security operators on stage 2: one approval, one key, the other answered 409', async () => {
    await Promise.all(
      [0, 0, 10, 10, 30, 30].map(async (offset) => {
        const { partnerId } = await submit(stack, twoStages);
        expect((await decide(stack, partnerId, t.alice!, { decision: 'approve' })).status).toBe(200);
        const answers = await race(
          () => decide(stack, partnerId, t.sec!, { decision: 'approve' }),
          () => decide(stack, partnerId, t.sec2!, { decision: 'approve' }),
          offset,
        );
        expectNo5xx(...answers);
        expect(answers.map((a) => a.status).sort(), answers.map((a) => a.text).join('\n')).toEqual([200, 409]);
        expect(answers.find((a) => a.status === 200)!.json.state).toBe('active');
        const handle = stack.client.workflow.getHandle(workflowIdFor(partnerId));
        expect((await handle.describe()).status.name).toBe('RUNNING');
        expect((await partnerRow(stack, partnerId)).state).toBe('active');
        const decisions = await stack.db.selectFrom('decisions').select(['stage', 'actor']).where('partner_id', '=', partnerId).orderBy('at').execute();
        expect(decisions.map((d) => d.stage)).toEqual(['sponsor', 'security']);
        const keys = await stack.db.selectFrom('credentials').select('key_id').where('partner_id', '=', partnerId).execute();
        expect(keys).toHaveLength(1);
        expect((await actions(stack, partnerId)).filter((a) => a === 'partner.activated')).toHaveLength(1);
      }),
    );
    await expectChainVerifies();
  }, 120_000);

  it('sponsor and an escalated alternate on stage 1: one stage-1 approval; the other never counts for stage 2', async () => {
    await Promise.all(
      [
        { alternate: 'bob', offset: 0 },
        { alternate: 'bob', offset: 10 },
        { alternate: 'carol', offset: 0 },
        { alternate: 'carol', offset: 0 },
        { alternate: 'carol', offset: 5 },
      ].map(async ({ alternate, offset }) => {
        const { partnerId } = await submit(stack, twoStages);
        await waitForAction(stack, partnerId, 'approval.escalated');
        const [sponsor, other] = await race(
          () => decide(stack, partnerId, t.alice!, { decision: 'approve' }),
          () => decide(stack, partnerId, t[alternate]!, { decision: 'approve' }),
          offset,
        );
        expectNo5xx(sponsor, other);
        // whichever the workflow took first decided stage 1; the other was made for stage 1 too
        const statuses = [sponsor.status, other.status].sort();
        expect(statuses[0], `${sponsor.text}\n${other.text}`).toBe(200);
        expect([403, 409]).toContain(statuses[1]);
        const row = await partnerRow(stack, partnerId);
        expect(row.state).toBe('pending_approval');
        expect(row.stage).toBe('security');
        const decisions = await stack.db.selectFrom('decisions').select(['stage', 'actor']).where('partner_id', '=', partnerId).execute();
        expect(decisions.map((d) => d.stage)).toEqual(['sponsor']);
        expect(await stack.db.selectFrom('credentials').select('key_id').where('partner_id', '=', partnerId).execute()).toHaveLength(0);
      }),
    );
    await expectChainVerifies();
  }, 120_000);
});

describe('revoked in the database, the signal never sent (an API that died right after its commit)', () => {
  const revokeWithoutSignal = async (partnerId: string) =>
    (await revokeInDatabase(stack.db, partnerId, { reason: REASON, actor: { kind: 'operator', name: 'sec', roles: ['security'] }, at: new Date().toISOString() }))
      ?.keysRevoked;

  it('waiting for stage 2: the workflow adopts the revocation at its next database write (the escalation)', async () => {
    const { partnerId } = await submit(stack, twoStages);
    expect((await decide(stack, partnerId, t.alice!, { decision: 'approve' })).status).toBe(200);
    expect(await revokeWithoutSignal(partnerId)).toBe(0);
    const trail = await expectFullyRevoked(partnerId);
    expect(trail).not.toContain('approval.escalated');
    const revoked = await waitForAction(stack, partnerId, 'partner.revoked');
    expect(revoked.actor).toBe('operator:sec');
  });

  it('an approval that passed the API’s check before the commit: refused 409-style, nothing issued, revoked', async () => {
    const { partnerId } = await submit(stack, twoStages);
    expect((await decide(stack, partnerId, t.alice!, { decision: 'approve' })).status).toBe(200);
    await revokeWithoutSignal(partnerId);
    // what the API sends after its read-model check, arriving after the commit
    const handle = stack.client.workflow.getHandle(workflowIdFor(partnerId));
    const failure = await handle
      .executeUpdate(decideUpdate, { args: [{ decision: 'approve', reason: 'looks right', actor: { kind: 'operator', name: 'sec', roles: ['security'] } }] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (failure as WorkflowUpdateFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('NotAllowedInState');
    expect(cause.message).toMatch(/revoked/);
    const trail = await expectFullyRevoked(partnerId);
    expect(trail).not.toContain('credential.issued');
    expect(await stack.db.selectFrom('credentials').select('key_id').where('partner_id', '=', partnerId).execute()).toHaveLength(0);
  });

  it('active: the workflow adopts the revocation when the review opens, instead of suspending a revoked partner', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    expect(await revokeWithoutSignal(p.partnerId)).toBe(1);
    expect(await introspect(p.apiKey)).toEqual({ active: false, reason: 'revoked' });
    const trail = await expectFullyRevoked(p.partnerId);
    expect(trail).not.toContain('recertification.opened');
    // revoked from where the row was: the opening the database refused moved nothing
    expect((await waitForAction(stack, p.partnerId, 'partner.revoked')).before).toBe('active');
    // adopted at the opening itself: its one step found the row revoked, and the workflow read the
    // revocation next, instead of going on to the review's next deadline first
    const steps = localActivitiesOf(await stack.client.workflow.getHandle(workflowIdFor(p.partnerId)).fetchHistory());
    expect(steps.slice(steps.indexOf('openReview'), steps.indexOf('openReview') + 2)).toEqual(['openReview', 'recordedRevocation']);
  });

  it('the signal was committed with the revocation: the redelivery loop sends what the dead API never did', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    // No worker: the workflow cannot find the revocation in the database by itself meanwhile.
    await stack.stopWorker();
    try {
      expect(await revokeWithoutSignal(p.partnerId)).toBe(1);
    } catch (err) {
      await stack.startWorker();
      throw err;
    }
    const outbox = await stack.db.selectFrom('pending_signals').selectAll().where('workflow_id', '=', workflowIdFor(p.partnerId)).execute();
    expect(outbox).toHaveLength(1);
    // what the API process runs every few seconds (runtime/roles.ts), here without the grace for in-flight requests
    const deps = { db: stack.db, temporal: { client: stack.client, taskQueue: stack.taskQueue }, logger: stack.logger };
    expect(await redeliverPendingSignals(deps, 0)).toBeGreaterThanOrEqual(1);
    const history = await stack.client.workflow.getHandle(workflowIdFor(p.partnerId)).fetchHistory();
    const signalled = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'emergencyRevoke');
    expect(signalled).toHaveLength(1);
    expect(await stack.db.selectFrom('pending_signals').selectAll().where('workflow_id', '=', workflowIdFor(p.partnerId)).execute()).toHaveLength(0);
    await stack.startWorker();
    await expectFullyRevoked(p.partnerId);
  });
});

describe('a lifecycle closed from outside under an admitted command', () => {
  it('terminated while a decision waits: 409, not 500', async () => {
    // The worker in a process of its own, so that a write lock held here stalls it and not this process.
    await stack.stopWorker();
    const child = stack.spawnWorkerProcess();
    const lock = new SQLite(stack.dbFile);
    try {
      const { partnerId } = await submit(stack, twoStages);
      const handle = stack.client.workflow.getHandle(workflowIdFor(partnerId));
      // The submission's own work (its notice) done first: an activity blocked on the lock would
      // hold up the worker process's event loop, and with it the admission of the decision.
      await eventually(async () => {
        const notice = await stack.db.selectFrom('notifications').select('id').where('partner_id', '=', partnerId).where('kind', '=', 'approval.requested').executeTakeFirst();
        return notice && (await handle.describe()).raw.pendingActivities?.length === 0;
      }, 30_000, 50);
      // The worker takes the workflow task carrying the decision, then its first write (a local
      // activity, run inside that task) waits for the lock: the decision stays unanswered until the
      // workflow is gone. (The update's acceptance is recorded only when that task completes.)
      const tasksStarted = async () => (await handle.fetchHistory()).events?.filter((e) => e.workflowTaskStartedEventAttributes).length ?? 0;
      const before = await tasksStarted();
      lock.exec('begin immediate');
      const pending = decide(stack, partnerId, t.alice!, { decision: 'approve' });
      await eventually(async () => (await tasksStarted()) > before, 30_000, 20);
      await handle.terminate('ended by an operator from the Temporal CLI');
      const res = await pending;
      expect(res.status, res.text).toBe(409);
      // the update was never accepted (its acceptance is recorded only when the blocked task completes):
      // the server answers that the workflow is gone (the accepted-then-ended mapping: test/unit/temporal-errors.test.ts)
      expect(res.json.detail).toBe('the partner’s lifecycle has ended');
    } finally {
      if (lock.inTransaction) lock.exec('rollback');
      lock.close();
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      await stack.startWorker();
    }
  }, 60_000);
});
