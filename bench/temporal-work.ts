/**
 * How much Temporal work one partner costs, per lifecycle phase (issue #17 item 4): one partner
 * through submission, approval (sponsor, then security), a recertification cycle (opened by its
 * timer, kept) and an emergency revocation, on the embedded stack with the fast test policy;
 * after each phase the history is read and the events since the last phase counted by kind.
 * "Billable actions" follows Temporal Cloud's rule of thumb: a workflow start, each activity
 * scheduled, each timer started, each signal and update received, and the local activities of one
 * workflow task together as one (workflow tasks are not billed, but each is a round trip to the
 * server and a replay slice on the worker).
 *
 *   npx tsx bench/temporal-work.ts            (about 30 s; prints a table and one JSON line)
 *
 * Run from a checkout of an earlier commit (the file copied there) it counts that code's work, for
 * a before/after side by side.
 */
import path from 'node:path';
import { createApp } from '../api/app.js';
import { unlimitedRateLimits } from '../config/limits.js';
import { httpCall, startLocalStack } from '../runtime/local-stack.js';
import { createLogger } from '../runtime/services.js';
import { installTemporalRuntime } from '../runtime/temporal-runtime.js';
import { workflowIdFor } from '../workflows/messages.js';
import proto from '@temporalio/proto';

// a CommonJS package: its namespace is the default export under Node's ESM loader
const { EventType } = proto.temporal.api.enums.v1;

const root = path.resolve(import.meta.dirname, '..');
const logger = createLogger('warn');
installTemporalRuntime(logger);
const local = await startLocalStack({
  name: 'pa-bench-work-',
  taskQueue: 'bench-work',
  logger,
  policyFile: path.join(root, 'test', 'fixtures', 'policy.fast.json'),
  // a review that opens a few seconds after activation and waits long enough to be answered
  policyOverrides: { recertifyEvery: '6s', recertReminders: ['4s'], suspendedGrace: '1 hour', approvalReminders: [], expiryWarnings: ['10 minutes'] },
});

type Kind = 'workflowTasks' | 'activities' | 'localActivities' | 'timers' | 'signals' | 'updates' | 'other';
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
const kindOf = (e: HistoryEvent): Kind | undefined => {
  const type = EventType[e.eventType ?? 0] ?? '';
  if (type === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED') return 'workflowTasks';
  if (type === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED') return 'activities';
  // the SDK records each local activity's outcome as a marker (a patch is a marker too)
  if (type === 'EVENT_TYPE_MARKER_RECORDED' && e.markerRecordedEventAttributes?.markerName === 'core_local_activity') return 'localActivities';
  if (type === 'EVENT_TYPE_TIMER_STARTED') return 'timers';
  if (type === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED') return 'signals';
  if (type === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED') return 'updates';
  return undefined;
};

try {
  const api = await local.listen(createApp(local.appDeps({ limits: unlimitedRateLimits })));
  const alice = await local.operator('alice', ['approver']);
  const sec = await local.operator('sec', ['security']);
  await local.startWorker();

  let partnerId = '';
  // where the last phase stopped: a run (continue-as-new starts another at each cycle) and its event count
  let seen = { runId: '', events: 0 };
  const rows: Array<Record<string, number | string>> = [];
  const runOf = async () => (await local.client.workflow.getHandle(workflowIdFor(partnerId)).describe()).runId;
  const history = async (runId?: string) => (await local.client.workflow.getHandle(workflowIdFor(partnerId), runId).fetchHistory()).events ?? [];
  const until = async (what: string, done: () => Promise<boolean>) => {
    for (let i = 0; !(await done()); i++) {
      if (i > 300) throw new Error(`${what}: not reached`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const state = async () => (await httpCall(api, 'GET', `/v1/partners/${partnerId}`, sec)).json?.state as string | undefined;
  /** Counts the events since the last phase, once the history has stopped growing. */
  const phase = async (name: string) => {
    let events = await history();
    for (let quiet = 0; quiet < 5; ) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await history();
      quiet = now.length === events.length ? quiet + 1 : 0;
      events = now;
    }
    const runId = await runOf();
    // a phase that crossed a continue-as-new: the rest of the old run, then the new run from its start
    const slice = seen.runId && seen.runId !== runId ? [...(await history(seen.runId)).slice(seen.events), ...(await history(runId))] : events.slice(seen.events);
    seen = { runId, events: (await history(runId)).length };
    const counts: Record<Kind, number> = { workflowTasks: 0, activities: 0, localActivities: 0, timers: 0, signals: 0, updates: 0, other: 0 };
    // workflow tasks whose completion recorded local activities: each is one action, however many it ran
    let tasksWithLocal = 0;
    let counted = false;
    for (const e of slice) {
      const kind = kindOf(e) ?? 'other';
      counts[kind]++;
      if (kind === 'workflowTasks') counted = false;
      if (kind === 'localActivities' && !counted) {
        tasksWithLocal++;
        counted = true;
      }
    }
    const billable = counts.activities + tasksWithLocal + counts.timers + counts.signals + counts.updates + (name === 'submission' ? 1 : 0);
    rows.push({ phase: name, events: slice.length, ...counts, billableActions: billable });
  };

  const submitted = await httpCall(api, 'POST', '/v1/partners', undefined, {
    name: 'Bench Work', contactEmail: 'dev@bench.example', sponsor: 'alice', environment: 'sandbox', scopes: ['orders:read', 'payments:read'], justification: 'count the work',
  });
  partnerId = submitted.json.partnerId as string;
  await until('pending approval', async () => (await state()) === 'pending_approval');
  await phase('submission');

  for (const token of [alice, sec]) {
    for (let i = 0; ; i++) {
      const res = await httpCall(api, 'POST', `/v1/partners/${partnerId}/decisions`, token, { decision: 'approve', reason: 'bench' });
      if (res.status === 200) break;
      if (i > 50) throw new Error(`decision failed: ${res.text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await until('active', async () => (await state()) === 'active');
  await phase('approval (2 stages) and key issued');

  await until('recertification due', async () => (await state()) === 'recertification_due');
  const kept = await httpCall(api, 'POST', `/v1/partners/${partnerId}/recertifications`, alice, { decision: 'keep', reason: 'bench' });
  if (kept.status !== 200) throw new Error(`keep failed: ${kept.text}`);
  await phase('recertification cycle (opened, kept)');

  const revoked = await httpCall(api, 'POST', `/v1/partners/${partnerId}/revocation`, sec, { reason: 'bench' });
  if (revoked.status !== 202) throw new Error(`revocation failed: ${revoked.text}`);
  await until('revoked', async () => (await state()) === 'revoked');
  await phase('revocation');

  const total = Object.fromEntries(Object.keys(rows[0]!).filter((k) => k !== 'phase').map((k) => [k, rows.reduce((s, r) => s + Number(r[k]), 0)]));
  rows.push({ phase: 'whole lifecycle', ...total });
  console.table(rows);
  console.log(JSON.stringify({ at: new Date().toISOString(), rows }));
} finally {
  await local.stop();
}
