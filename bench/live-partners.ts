/**
 * `npx tsx bench/live-partners.ts [--partners 2000] [--concurrency 32] [--window 400] [--margin 60]
 *  [--warning 20] [--sample-every 5] [--rate-guess 20] [--drain-timeout <s>]`
 *
 * Issue #17 item 5: N live partners on one worker, its memory bounded, every timer fired. On the
 * embedded stack (bench/embedded-stack.ts: a dev server of its own, the worker as its own process,
 * the API on a loopback port), N low-risk sandbox requests are submitted over HTTP and the policy
 * approves them itself (`autoApprove`), so each becomes active with its key issued without a
 * person. Each is submitted with an access end date after the moment the last one is expected to
 * be live, so all N are live at once; then every partner's two timers fire: the expiry warning
 * (`--warning` s before the end: a notice; `--warning 0`: none) and the end of access (offboarded, keys revoked). The
 * worker's RSS (and its main thread's heap, and the SDK's workflow cache size) and the dev
 * server's RSS are sampled throughout. Whether every timer fired is read from our database, per
 * partner, and those whose timers did not fire are listed.
 *
 * Why the end date and not a recertification cycle: the end date is absolute, so the driver can
 * place every partner's timers after the last activation (a `recertifyEvery` counts from each
 * activation, so its timers would fire during the creation or make the run twice as long), and
 * one state-changing timer per partner keeps a 100 000-partner run's Temporal work at what a
 * 2-core machine finishes in tens of minutes.
 *
 * Worker knobs come from the environment as for `npm run worker` (WORKER_MAX_CACHED_WORKFLOWS …).
 * Results: bench/results/live-partners-<time>.json (with every sample) and live-partners-latest.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/env.js';
import { freePort } from '../runtime/dev-server.js';
import { cpuMeter } from './cpu.js';
import { startEmbeddedStack } from './embedded-stack.js';
import { percentile } from './load.js';
import { pool, until } from './pool.js';
import { flatten, markdownReport } from './report.js';

const { values } = parseArgs({
  options: {
    partners: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '32' },
    window: { type: 'string', default: '400' },
    margin: { type: 'string', default: '60' },
    warning: { type: 'string', default: '20' },
    'sample-every': { type: 'string', default: '5' },
    'rate-guess': { type: 'string', default: '20' },
    'drain-timeout': { type: 'string' },
  },
});
const N = Number(values.partners);
const CONCURRENCY = Number(values.concurrency);
/** submitted but not yet active, at most: keeps the server's backlog (and the projection below) honest */
const WINDOW = Number(values.window);
const MARGIN_S = Number(values.margin);
const WARNING_S = Number(values.warning);
const SAMPLE_EVERY_S = Number(values['sample-every']);
const RATE_GUESS = Number(values['rate-guess']);
// the timers all come due together: give the worker well over the creation's rate to catch up
const DRAIN_TIMEOUT_S = Number(values['drain-timeout'] ?? Math.max(600, Math.ceil(N / 5)));
if (![N, CONCURRENCY, WINDOW, MARGIN_S, SAMPLE_EVERY_S, RATE_GUESS, DRAIN_TIMEOUT_S].every((v) => Number.isFinite(v) && v > 0) || !(WARNING_S >= 0 && WARNING_S < MARGIN_S)) {
  throw new Error('every option is a positive number, and --warning (0: none) must be below --margin (the warning must fall after the activation)');
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : round(bytes / 1024 / 1024));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fileSize = (f: string) => ['', '-wal'].reduce((sum, s) => sum + (fs.existsSync(f + s) ? fs.statSync(f + s).size : 0), 0);

/**
 * Resident memory of a process from /proc (never waits on the process, however busy it is): the
 * total, and its anonymous part (heaps, the SDK's native memory) apart from mapped files.
 */
function residentMemory(pid: number | undefined): { rss?: number; anon?: number } {
  if (pid === undefined) return {};
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => {
      const value = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
      return value === undefined ? undefined : Number(value) * 1024;
    };
    return { rss: kb('VmRSS'), anon: kb('RssAnon') };
  } catch {
    return {};
  }
}

// The worker process reads the same variables as `npm run worker`; its SDK metrics give the cache size.
const tuning = loadConfig(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('WORKER_MAX_')))).worker.tuning;
const metricsAddress = `127.0.0.1:${await freePort()}`;
process.env.WORKER_METRICS_ADDRESS = metricsAddress;

const stack = await startEmbeddedStack({
  // the policy approves low-risk requests itself; `always` would forbid that (config/policy.ts)
  securityApproval: 'high-risk',
  autoApprove: { scopes: 'low-risk' },
  maxAccess: '365 days',
  approvalReminders: [],
  // no review falls before the end date: the end of access is this run's timer
  recertifyEvery: '300 days',
  recertReminders: ['1 day'],
  // --warning 0: one timer per partner (the end), half the Temporal work of the drain
  expiryWarnings: WARNING_S > 0 ? [`${WARNING_S}s`] : [],
});
const pids = stack.pids;

type Counts = Record<string, number>;
let counts: Counts = {};
const total = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0);
/** past the approval: active now, or ended after having been active */
const activated = (c: Counts) => total(c) - (c.pending_approval ?? 0);
async function readCounts(): Promise<Counts> {
  const rows = await stack.db.selectFrom('partners').select((eb) => ['state', eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

interface Sample {
  s: number;
  workerRssMb?: number;
  workerRssAnonMb?: number;
  workerHeapUsedMb?: number;
  cachedWorkflows?: number;
  devServerRssMb?: number;
  driverRssMb?: number;
  active: number;
  activated: number;
  ended: number;
}
const t0 = Date.now();
const samples: Sample[] = [];
let heapUsed: number | undefined;
let askingHeap = false;
/** The worker's SDK metrics (its Prometheus text), or '' when it does not answer in time. */
async function workerMetricsText(): Promise<string> {
  try {
    return await (await fetch(`http://${metricsAddress}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  } catch {
    return '';
  }
}
/** a metric summed over its labels (undefined: not reported yet) */
function metric(text: string, name: string): number | undefined {
  const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => Number(m[1]));
  return values.length ? values.reduce((a, b) => a + b, 0) : undefined;
}
/** Where the worker's time went (the SDK's histograms are in ms): the totals so far. */
async function workerTotals() {
  const text = await workerMetricsText();
  const mean = (histogram: string) => {
    const count = metric(text, `${histogram}_count`);
    return count ? round(metric(text, `${histogram}_sum`)! / count) : undefined;
  };
  return {
    workflowTasks: metric(text, 'temporal_workflow_task_execution_latency_count'),
    workflowTaskExecutionMeanMs: mean('temporal_workflow_task_execution_latency'),
    workflowTaskScheduleToStartMeanMs: mean('temporal_workflow_task_schedule_to_start_latency'),
    replays: metric(text, 'temporal_workflow_task_replay_latency_count'),
    workflowTaskFailures: metric(text, 'temporal_workflow_task_execution_failed') ?? 0,
    cacheForcedEvictions: metric(text, 'temporal_sticky_cache_total_forced_eviction') ?? 0,
    activityFailures: metric(text, 'temporal_activity_execution_failed') ?? 0,
    localActivityFailures: metric(text, 'temporal_local_activity_execution_failed') ?? 0,
  };
}
async function sample(): Promise<Sample> {
  // the heap comes over IPC, which a busy worker answers late: one question at a time, the latest answer kept
  if (!askingHeap) {
    askingHeap = true;
    void stack.workerStats().then((m) => {
      heapUsed = m.heapUsed;
      askingHeap = false;
    });
  }
  const p = pids();
  const c = counts;
  const worker = residentMemory(p.worker);
  const s: Sample = {
    s: round((Date.now() - t0) / 1000),
    workerRssMb: mb(worker.rss),
    workerRssAnonMb: mb(worker.anon),
    workerHeapUsedMb: mb(heapUsed),
    cachedWorkflows: metric(await workerMetricsText(), 'temporal_sticky_cache_size'),
    devServerRssMb: mb(residentMemory(p.temporalServer).rss),
    driverRssMb: mb(process.memoryUsage().rss),
    active: c.active ?? 0,
    activated: activated(c),
    ended: activated(c) - (c.active ?? 0),
  };
  samples.push(s);
  return s;
}

/** (time, activated) of the last minute: the projection below reads the recent rate, not the warm-up's */
const recent: { at: number; activated: number }[] = [];
function recentRate(): number | undefined {
  const first = recent[0];
  const last = recent[recent.length - 1];
  return first && last && last.at - first.at >= 20_000 && last.activated > first.activated ? (last.activated - first.activated) / ((last.at - first.at) / 1000) : undefined;
}

let sampling = true;
const poller = (async () => {
  let nextSample = 0;
  while (sampling) {
    counts = await readCounts();
    recent.push({ at: Date.now(), activated: activated(counts) });
    while (recent.length > 0 && recent[0]!.at < Date.now() - 60_000) recent.shift();
    if (Date.now() >= nextSample) {
      nextSample = Date.now() + SAMPLE_EVERY_S * 1000;
      const s = await sample();
      if (samples.length % Math.max(1, Math.round(15 / SAMPLE_EVERY_S)) === 1) {
        process.stdout.write(`  ${s.s} s: ${s.activated}/${N} activated, ${s.active} active, ${s.ended} ended; worker RSS ${s.workerRssMb} MB (cache ${s.cachedWorkflows}), dev server ${s.devServerRssMb} MB\n`);
      }
    }
    await sleep(1000);
  }
})();

const report: Record<string, unknown> = {};
let failed = false;
try {
  process.stdout.write(`live partners: N=${N}, ${CONCURRENCY} submissions at a time, at most ${WINDOW} waiting; worker ${JSON.stringify(tuning)} (${stack.temporalVersion})\n`);

  // 1. Creation. Each end date = now + the projected time until the last partner is live (at the
  // last minute's rate, ×1.15; `--rate-guess` until 1000 are active) + the margin: every timer
  // falls after the last activation.
  const creationCpu = cpuMeter(pids);
  const started = Date.now();
  let submittedCount = 0;
  const httpMs: number[] = [];
  const ids = await pool(N, CONCURRENCY, async (i) => {
    while (submittedCount - activated(counts) >= WINDOW) await sleep(50);
    submittedCount++;
    const done = activated(counts);
    // the first minute's rate is the queue filling up, not the stack's: the guess stands until a steady state
    const rate = (done >= Math.min(1000, N / 5) ? recentRate() : undefined) ?? RATE_GUESS;
    const accessUntil = new Date(Date.now() + (((N - done) / rate) * 1.15 + MARGIN_S) * 1000).toISOString();
    const t = performance.now();
    const res = await stack.call('POST', '/v1/partners', undefined, {
      name: `Live partner ${i}`,
      contactEmail: `live${i}@example.com`,
      sponsor: 'alice',
      environment: 'sandbox',
      scopes: ['orders:read', 'catalog:read'],
      justification: 'live-partners benchmark',
      accessUntil,
    });
    httpMs.push(performance.now() - t);
    if (res.status !== 202) throw new Error(`submission ${i}: ${res.status} ${res.text}`);
    return res.json.partnerId as string;
  });
  const submittedSeconds = (Date.now() - started) / 1000;
  const allLive = await until(
    async () => {
      counts = await readCounts();
      return activated(counts) >= N;
    },
    3_600_000,
    200,
  );
  const creationSeconds = (Date.now() - started) / 1000;
  const atAllLive = await sample();
  const activeAtAllLive = counts.active ?? 0;
  const totalsAtAllLive = await workerTotals();
  const eventsPerRun = await Promise.all(ids.slice(0, 10).map(async (id) => (await stack.client.workflow.getHandle(`partner-${id}`).fetchHistory()).events?.length ?? 0));
  report.creation = {
    partners: N,
    allBecameActive: allLive,
    seconds: round(creationSeconds),
    sustainedStartsPerSecond: round(N / creationSeconds, 2),
    secondsPerThousand: round((creationSeconds / N) * 1000),
    submissionsOverHttp: { seconds: round(submittedSeconds), p50ms: round(percentile(httpMs, 50)), p99ms: round(percentile(httpMs, 99)) },
    activeWhenTheLastBecameActive: activeAtAllLive,
    endedBeforeTheLastBecameActive: N - activeAtAllLive,
    historyEventsPerRunAvg: round(eventsPerRun.reduce((a, b) => a + b, 0) / eventsPerRun.length),
    atAllLive,
    workerMetrics: totalsAtAllLive,
    appDbMb: mb(fileSize(stack.dbFile)),
    temporalDbMb: mb(fileSize(stack.temporalDbFile)),
    cpu: creationCpu(),
  };
  process.stdout.write(`  all ${N} active after ${round(creationSeconds)} s (${round(N / creationSeconds, 2)}/s); timers due from now on\n`);

  // 2. The timers: wait until every partner has ended (or the drain's time is up).
  const timersCpu = cpuMeter(pids);
  const deadlines = (await stack.db.selectFrom('partners').select(['access_until']).execute()).map((r) => Date.parse(r.access_until));
  const lastDeadline = Math.max(...deadlines);
  const drained = await until(async () => (counts.active ?? 0) === 0 && activated(counts) >= N, Math.max(0, lastDeadline - Date.now()) + DRAIN_TIMEOUT_S * 1000, 1000);
  const drainedAt = Date.now();
  const timerCpu = timersCpu();
  const totalsAtEnd = await workerTotals();

  // 3. Every timer fired? Read from our database, per partner: the warning's notice, the end's audit event, the keys.
  const partners = await stack.db.selectFrom('partners').select(['id', 'state', 'end_reason', 'access_until']).execute();
  const endReason = 'access end date reached';
  const ends = new Map(
    (await stack.db.selectFrom('audit_events').select(['partner_id', 'at']).where('action', '=', 'partner.offboarded').where('reason', '=', endReason).execute()).map((r) => [r.partner_id!, Date.parse(r.at)]),
  );
  const warnings = new Map(
    (await stack.db.selectFrom('notifications').select(['partner_id', 'created_at']).where('kind', '=', 'access.expiry_warning').execute()).map((r) => [r.partner_id, Date.parse(r.created_at)]),
  );
  const liveKeys = new Set((await stack.db.selectFrom('credentials').select(['partner_id']).where('status', '=', 'active').execute()).map((r) => r.partner_id));
  const missed: { partnerId: string; state: string; warning: boolean; end: boolean; keyStillActive: boolean }[] = [];
  const endLateness: number[] = [];
  const warningLateness: number[] = [];
  let early = 0;
  for (const p of partners) {
    const deadline = Date.parse(p.access_until);
    const end = ends.get(p.id);
    const warning = warnings.get(p.id);
    if (end !== undefined) endLateness.push(end - deadline);
    if (warning !== undefined) warningLateness.push(warning - (deadline - WARNING_S * 1000));
    if ((end !== undefined && end < deadline) || (warning !== undefined && warning < deadline - WARNING_S * 1000)) early++;
    const ok = p.state === 'offboarded' && p.end_reason === endReason && end !== undefined && (warning !== undefined || WARNING_S === 0) && !liveKeys.has(p.id);
    if (!ok) missed.push({ partnerId: p.id, state: p.state, warning: warning !== undefined, end: end !== undefined, keyStillActive: liveKeys.has(p.id) });
  }
  const stats = (ms: number[]) => ({ p50ms: round(percentile(ms, 50)), p99ms: round(percentile(ms, 99)), maxMs: round(Math.max(...ms)) });
  const firstDeadline = Math.min(...deadlines);
  report.timers = {
    everyTimerFired: missed.length === 0 && partners.length === N,
    partners: partners.length,
    timersExpected: (WARNING_S > 0 ? 2 : 1) * N,
    warningsFired: warnings.size,
    endsFired: ends.size,
    firedEarly: early,
    partnersWhoseTimersDidNotFire: missed.length,
    deadlinesSpreadSeconds: round((lastDeadline - firstDeadline) / 1000),
    // how long after the last deadline the last partner ended: what the burst of due timers cost the worker
    secondsFromLastDeadlineToAllEnded: drained ? round((drainedAt - lastDeadline) / 1000) : undefined,
    endLatenessAfterDeadline: stats(endLateness),
    warningLatenessAfterItsTime: stats(warningLateness),
    cpu: timerCpu,
    workerMetricsAtEnd: totalsAtEnd,
    missed: missed.slice(0, 1000),
  };

  // 4. Memory over the whole run.
  await sleep(SAMPLE_EVERY_S * 1000);
  const end = await sample();
  const peak = (key: keyof Sample) => Math.max(...samples.map((s) => (s[key] as number | undefined) ?? 0));
  report.memory = {
    workerRssMaxMb: peak('workerRssMb'),
    workerRssAtAllLiveMb: atAllLive.workerRssMb,
    workerRssAtEndMb: end.workerRssMb,
    workerRssAnonMaxMb: peak('workerRssAnonMb'),
    workerHeapUsedMaxMb: peak('workerHeapUsedMb'),
    cachedWorkflowsMax: peak('cachedWorkflows'),
    devServerRssMaxMb: peak('devServerRssMb'),
    devServerRssAtEndMb: end.devServerRssMb,
    driverAndApiRssMaxMb: peak('driverRssMb'),
    appDbMb: mb(fileSize(stack.dbFile)),
    temporalDbMb: mb(fileSize(stack.temporalDbFile)),
  };
  if (missed.length > 0) {
    process.stdout.write(`  TIMERS NOT FIRED for ${missed.length} partners (first 20):\n${missed.slice(0, 20).map((m) => `    ${JSON.stringify(m)}`).join('\n')}\n`);
    failed = true;
  }
} catch (err) {
  failed = true;
  process.stderr.write(`live-partners failed: ${(err as Error).stack}\n`);
} finally {
  sampling = false;
  await poller.catch(() => undefined);
  await stack.stop();
}

const machine = { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', memoryGb: round(os.totalmem() / 1024 ** 3), node: process.version, loadAverage1m: round(os.loadavg()[0]!, 2) };
const at = new Date().toISOString();
const options = { partners: N, concurrency: CONCURRENCY, window: WINDOW, marginSeconds: MARGIN_S, warningSeconds: WARNING_S, sampleEverySeconds: SAMPLE_EVERY_S };
const full = { at, machine, temporal: stack.temporalVersion, options, workerTuning: tuning, ...report, samples };
const rows = flatten({ workerTuning: tuning, ...report });
const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);

const dir = path.resolve(import.meta.dirname, 'results');
fs.mkdirSync(dir, { recursive: true });
const file = `live-partners-${at.replace(/[:.]/g, '-')}.json`;
fs.writeFileSync(path.join(dir, file), `${JSON.stringify(full, null, 2)}\n`);
fs.writeFileSync(
  path.join(dir, 'live-partners-latest.md'),
  markdownReport(
    `Live partners on one worker, ${at}`,
    [
      `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GiB, Node ${machine.node}, load average ${machine.loadAverage1m} at the end; ${stack.temporalVersion}.`,
      `Options: ${JSON.stringify(options)}; worker: ${JSON.stringify(tuning)}. Raw (with every sample): \`${file}\`.`,
    ],
    rows,
  ),
);
process.stdout.write(`\nwrote bench/results/${file} and bench/results/live-partners-latest.md\n`);
process.exit(failed ? 1 : 0);
