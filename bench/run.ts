/**
 * `npm run bench [-- --smoke] [--n 1000] [--m 10000] [--duration 10] [--connections 10]
 *  [--only intro,gateway,edgerestart,onboarding,decision,revocation,scale] [--wave-after 600]
 *  [--wave burst|live] [--answer-window 1] [--gateway-rounds 2]`
 * Measures partner-access on the embedded stack and writes bench/results/<stamp>.json and
 * bench/results/latest.md. See bench/README.md for what each number means.
 *
 * Longer than our ~300-line mark: one phase per measurement, each reading better next to the
 * others than split apart; the stack it measures is bench/embedded-stack.ts, on the harness all
 * local stacks share (runtime/local-stack.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import { cpuMeter, cpuSeconds, machineCpuSeconds } from './cpu.js';
import { pool, until } from './pool.js';
import { flatten, markdownReport } from './report.js';
import { percentile, runLoad, type LoadResult } from './load.js';
import { startEmbeddedStack, type EmbeddedStack } from './embedded-stack.js';
import { freePort } from '../runtime/dev-server.js';
import { nginxBinary, renderDirectNginxConfig, startGateway, type GatewayOptions } from '../runtime/gateway.js';
import { createOperator } from '../runtime/operators.js';
import { loadConfig } from '../config/env.js';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    n: { type: 'string' },
    m: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '10' },
    only: { type: 'string' },
    'wave-after': { type: 'string' },
    wave: { type: 'string', default: 'burst' },
    'answer-window': { type: 'string', default: '1' },
    'gateway-rounds': { type: 'string', default: '2' },
  },
});
const smoke = values.smoke!;
const N = Number(values.n ?? (smoke ? 20 : 1000));
const M = Number(values.m ?? (smoke ? 30 : 10_000));
const DURATION = Number(values.duration ?? (smoke ? 2 : 10));
const CONNECTIONS = Number(values.connections);
const WAVE_AFTER = Number(values['wave-after'] ?? (smoke ? 25 : Math.max(120, Math.ceil(M / 6))));
const WAVE = values.wave === 'live' ? 'live' : 'burst';
/**
 * Seconds from a review opening to its due time, when an unanswered review suspends the partner.
 * 1 (the default, the shape of every earlier run): each review's suspension follows it within the
 * wave. A real answer window is weeks; a larger value leaves the wave to the reviews alone.
 */
const ANSWER_WINDOW = Number(values['answer-window']);
/** nginx direct and edge measured this many times each, alternating (a burst of other load hits both alike) */
const GATEWAY_ROUNDS = Number(values['gateway-rounds']);
if (!Number.isInteger(GATEWAY_ROUNDS) || GATEWAY_ROUNDS < 1) throw new Error('--gateway-rounds: a whole number, at least 1');
if (!Number.isInteger(ANSWER_WINDOW) || ANSWER_WINDOW < 1) throw new Error('--answer-window: whole seconds, at least 1');
// the worker process's sandbox switches, as its config reads them (its environment is this one's): they move every workflow-bound number
const sandbox = loadConfig(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('WORKER_')))).worker.tuning;
const workerSandbox = {
  activationTimeout: sandbox.isolateExecutionTimeout ? `${sandbox.isolateExecutionTimeout / 1000}s` : 'off',
  stackTraces: sandbox.workflowStackTraces ? 'on' : 'off',
};
const only = new Set((values.only ?? 'intro,gateway,edgerestart,onboarding,decision,revocation,scale').split(','));

const submission = (i: number, environment = 'sandbox') => ({
  name: `Bench partner ${i}`,
  contactEmail: `bench${i}@example.com`,
  sponsor: 'alice',
  environment,
  scopes: ['orders:read', 'catalog:read'],
  justification: 'benchmark',
});

async function submitted(stack: EmbeddedStack, ids: string[]) {
  const row = await stack.db
    .selectFrom('partners')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('id', 'in', ids)
    .where('transition_seq', '>=', 1)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function activePartners(stack: EmbeddedStack, count: number, concurrency = 16) {
  return pool(count, concurrency, async (i) => {
    const sub = await stack.call('POST', '/v1/partners', undefined, submission(i));
    if (sub.status !== 202) throw new Error(`submission ${sub.status}`);
    const { partnerId, requestToken } = sub.json as { partnerId: string; requestToken: string };
    await until(async () => (await submitted(stack, [partnerId])) === 1, 60_000, 50);
    const decided = await stack.call('POST', `/v1/partners/${partnerId}/decisions`, stack.tokens.alice, { decision: 'approve', reason: 'bench' });
    if (decided.status !== 200) throw new Error(`decision ${decided.status}`);
    const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, requestToken);
    return { partnerId, apiKey: pickup.json.apiKey as string };
  });
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 1024 / 1024);
const fileSize = (f: string) => ['', '-wal'].reduce((sum, s) => sum + (fs.existsSync(f + s) ? fs.statSync(f + s).size : 0), 0);

async function introspection(stack: EmbeddedStack) {
  const [valid] = await activePartners(stack, 1);
  const common = { connections: CONNECTIONS, durationSeconds: DURATION };
  const post = (token: string) => ({
    ...common,
    url: `${stack.api}/v1/introspect`,
    method: 'POST',
    headers: { authorization: `Bearer ${stack.tokens.gw}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const baseline = await runLoad({ ...common, url: `${stack.api}/healthz` });
  const validKey = await runLoad(post(valid!.apiKey));
  const bad = valid!.apiKey.slice(0, -1) + (valid!.apiKey.endsWith('A') ? 'B' : 'A');
  const invalidKey = await runLoad(post(bad));
  const show = (r: LoadResult) => ({ rps: round(r.requestsPerSecond), p50ms: r.p50, p99ms: r.p99, non2xx: r.non2xx, errors: r.errors, errorCodes: r.errorCodes });
  return {
    baselineHealthz: show(baseline),
    validKey: show(validKey),
    invalidKey: show(invalidKey),
    ratioValidToBaseline: round(validKey.requestsPerSecond / baseline.requestsPerSecond, 2),
    ratioInvalidToBaseline: round(invalidKey.requestsPerSecond / baseline.requestsPerSecond, 2),
  };
}

/**
 * The gateway path: a partner's GET through nginx auth_request (nginx → /v1/gateway/auth → the
 * upstream) and through the edge mode (verdicts cached in nginx, issue #14), against the same
 * nginx configuration with its auth_request directive taken out (nginx straight to the upstream).
 * The upstream runs in its own process. Then, at the edge: revocation → refused at the gateway.
 */
async function gatewayPath(stack: EmbeddedStack) {
  nginxBinary(); // fails with the install hint before anything starts
  const [partner] = await activePartners(stack, 1);
  const { upstreamProcess, upstreamPort } = await startUpstreamProcess();
  const common: Omit<GatewayOptions, 'port' | 'runtimeDir'> = {
    apiUpstream: new URL(stack.api).host,
    upstream: `127.0.0.1:${upstreamPort}`,
    gatewayToken: await createOperator(stack.db, 'edge', ['gateway']),
  };
  const started: { stop(): Promise<void> }[] = [];
  try {
    const guarded = await startGateway({ ...common, port: await freePort(), runtimeDir: path.join(stack.dir, 'nginx-auth') });
    started.push(guarded);
    // the same configuration with its auth_request directive taken out: nginx straight to the upstream
    const open = await startGateway({
      ...common,
      port: await freePort(),
      runtimeDir: path.join(stack.dir, 'nginx-direct'),
      render: renderDirectNginxConfig,
    });
    started.push(open);
    const edge = await startGateway({ ...common, mode: 'edge', port: await freePort(), runtimeDir: path.join(stack.dir, 'nginx-edge') });
    started.push(edge);
    // Where each request's CPU went, in µs: nginx's workers (the gateway's own work, which other
    // load on a shared machine does not move much), the upstream, the load generator, and the rest
    // of the machine (the API, the dev server, this driver); plus the machine's idle share. On two
    // shared cores the rate follows the sum, so this says why a ratio is what it is.
    const load = async (gateway: { url: string; process: { pid?: number } }) => {
      const before = { nginx: nginxWorkersCpuSeconds(gateway.process.pid!), upstream: cpuSeconds(upstreamProcess.pid), machine: machineCpuSeconds() };
      const result = await runLoad({ url: `${gateway.url}/orders/42`, connections: CONNECTIONS, durationSeconds: DURATION, headers: { 'x-api-key': partner!.apiKey } });
      const requests = Math.max(result.total, 1);
      const perRequest = (seconds: number) => round((seconds * 1e6) / requests, 1);
      const nginx = nginxWorkersCpuSeconds(gateway.process.pid!) - before.nginx;
      const upstream = (cpuSeconds(upstreamProcess.pid) ?? 0) - (before.upstream ?? 0);
      const machine = machineCpuSeconds();
      const busy = machine && before.machine ? machine.busy - before.machine.busy : Number.NaN;
      const idle = machine && before.machine ? machine.idle - before.machine.idle : Number.NaN;
      return {
        ...result,
        cpuMicrosPerRequest: {
          nginx: perRequest(nginx),
          upstream: perRequest(upstream),
          loadGenerator: perRequest(result.generatorCpuSeconds),
          rest: perRequest(busy - nginx - upstream - result.generatorCpuSeconds),
          machineIdlePercent: round((idle / (busy + idle)) * 100, 1),
        },
      };
    };
    const show = (r: Awaited<ReturnType<typeof load>>) => ({ rps: round(r.requestsPerSecond), p50ms: r.p50, p99ms: r.p99, non2xx: r.non2xx, errors: r.errors, errorCodes: r.errorCodes, nginxCpuMicrosPerRequest: r.cpuMicrosPerRequest.nginx, cpuMicrosPerRequest: r.cpuMicrosPerRequest });
    // direct and edge GATEWAY_ROUNDS times each, alternating, so a burst of other load on the
    // machine hits both alike; auth_request once, after the first direct run
    const direct: Awaited<ReturnType<typeof load>>[] = [];
    const viaEdge: Awaited<ReturnType<typeof load>>[] = [];
    let viaAuth: Awaited<ReturnType<typeof load>> | undefined;
    for (let round = 0; round < GATEWAY_ROUNDS; round++) {
      direct.push(await load(open));
      if (round === 0) viaAuth = await load(guarded);
      viaEdge.push(await load(edge));
    }
    const mean = (rs: LoadResult[]) => rs.reduce((sum, r) => sum + r.requestsPerSecond, 0) / rs.length;
    const runs = (rs: Awaited<ReturnType<typeof load>>[]) => Object.fromEntries(rs.map((r, i) => [`run${i + 1}`, show(r)]));
    return {
      // run1 / run2 … (objects, not arrays, so the report's table flattens them)
      nginxDirect: runs(direct),
      nginxAuthRequest: show(viaAuth!),
      nginxEdge: runs(viaEdge),
      ratioAuthToDirect: round(viaAuth!.requestsPerSecond / mean(direct), 2),
      ratioEdgeToDirect: round(mean(viaEdge) / mean(direct), 2),
      // each round's edge run against the direct run just before it: the spread of the ratio
      ratioEdgeToDirectByRound: Object.fromEntries(viaEdge.map((e, i) => [`run${i + 1}`, round(e.requestsPerSecond / direct[i]!.requestsPerSecond, 2)])),
      edgeRevocation: await edgeRevocationUnderLoad(stack, edge, await startGateway({ ...common, mode: 'edge', port: await freePort(), runtimeDir: path.join(stack.dir, 'nginx-edge-2') }), partner!.apiKey),
    };
  } finally {
    await Promise.all(started.map((g) => g.stop()));
    upstreamProcess.kill('SIGTERM');
  }
}

/** The sample upstream in a process of its own (it must not share the bench driver's event loop). */
async function startUpstreamProcess() {
  const upstreamProcess = fork(path.resolve(import.meta.dirname, 'upstream-process.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const upstreamPort = await new Promise<number>((resolve) => upstreamProcess.once('message', (m: any) => resolve(m.port)));
  return { upstreamProcess, upstreamPort };
}

/**
 * A gateway restarted mid-load (issue #14). An edge gateway serves a steady load (4 connections,
 * one partner's key) while a watcher asks, round after round, about a live key and about keys
 * revoked before (their change applied), during a reload (SIGHUP: the shared memory survives, the
 * feed's follower starts over) and while nginx is stopped (stop, then start on the same port: the
 * cache is gone). Recorded: the load's errors and non-2xx, the watcher's answers in each stretch,
 * the time from nginx's start to its first verdict, and every 200 for a key after its revocation
 * was answered (202), with how late the last one was.
 */
async function edgeRestartUnderLoad(stack: EmbeddedStack) {
  nginxBinary();
  const group = smoke ? 2 : 10;
  const [loadKey, live, ...victims] = await activePartners(stack, 2 + 3 * group);
  const groups = { before: victims.slice(0, group), duringReload: victims.slice(group, 2 * group), whileStopped: victims.slice(2 * group) };
  const { upstreamProcess, upstreamPort } = await startUpstreamProcess();
  const options: GatewayOptions = {
    apiUpstream: new URL(stack.api).host,
    upstream: `127.0.0.1:${upstreamPort}`,
    gatewayToken: await createOperator(stack.db, 'edge-restart', ['gateway']),
    mode: 'edge',
    port: await freePort(),
    runtimeDir: path.join(stack.dir, 'nginx-edge-restart'),
    // the watcher asks about revoked keys all along, from the load's address: not what is measured
    failedKeysPerMinute: 1_000_000_000,
  };
  let gateway = await startGateway(options);
  const status = async (key: string): Promise<number | 'refused'> => {
    try {
      const res = await fetch(`${gateway.url}/orders/1`, { headers: { 'x-api-key': key } });
      await res.body?.cancel();
      return res.status;
    } catch {
      return 'refused'; // nginx not listening (stopped)
    }
  };
  const revokedAt = new Map<string, number>();
  const revoke = async (p: { partnerId: string; apiKey: string }) => {
    const res = await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, stack.tokens.sec, { reason: 'bench' });
    if (res.status !== 202) throw new Error(`revocation ${res.status}`);
    revokedAt.set(p.apiKey, performance.now());
  };
  try {
    for (const p of [loadKey!, live!, ...victims]) for (let i = 0; i < 2; i++) if ((await status(p.apiKey)) !== 200) throw new Error('edge restart: the warm-up did not pass');
    for (const p of groups.before) await revoke(p);
    await Promise.all(groups.before.map((p) => until(async () => (await status(p.apiKey)) === 401, 10_000, 5)));

    let stretch = 'steady';
    const answers: Record<string, Record<string, number>> = {};
    // a 200 for a key after its revocation's 202: none is the goal (listed as zeros when none)
    const servedAfterRevocation: Record<string, { count: number; latestMsAfter202: number }> = Object.fromEntries(
      Object.keys(groups).map((name) => [name, { count: 0, latestMsAfter202: 0 }]),
    );
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const [name, keys] of [['live', [live!]], ...Object.entries(groups)] as const) {
          for (const p of keys) {
            const answer = await status(p.apiKey);
            const tally = (answers[stretch] ??= {});
            const label = `${name}.${answer}`;
            tally[label] = (tally[label] ?? 0) + 1;
            const at = revokedAt.get(p.apiKey);
            if (answer === 200 && at !== undefined) {
              const served = servedAfterRevocation[name]!;
              served.count += 1;
              served.latestMsAfter202 = Math.max(served.latestMsAfter202, round(performance.now() - at, 1));
            }
          }
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const background = runLoad({ url: `${gateway.url}/orders/7`, connections: 4, durationSeconds: smoke ? 12 : 16, headers: { 'x-api-key': loadKey!.apiKey } });
    await sleep(2000);
    stretch = 'reload';
    process.kill(gateway.process.pid!, 'SIGHUP');
    for (const p of groups.duringReload) await revoke(p);
    await sleep(4000); // the old workers are gone (worker_shutdown_timeout 3 s)
    stretch = 'afterReload';
    await sleep(2000);
    stretch = 'stopped';
    await gateway.stop();
    for (const p of groups.whileStopped) await revoke(p);
    const starting = performance.now();
    gateway = await startGateway(options);
    const listening = performance.now();
    await until(async () => (await status(live!.apiKey)) === 200, 10_000, 1);
    const firstVerdict = performance.now();
    stretch = 'afterRestart';
    await sleep(3000);
    watching = false;
    await watcher;
    const load = await background;
    return {
      keys: { live: 1, ...Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, v.length])) },
      backgroundLoad: { rps: round(load.requestsPerSecond), total: load.total, non2xx: load.non2xx, errors: load.errors, errorCodes: load.errorCodes },
      restart: { msToListening: round(listening - starting, 1), msToFirstVerdict: round(firstVerdict - starting, 1) },
      answers,
      servedAfterRevocation,
    };
  } finally {
    await gateway.stop();
    upstreamProcess.kill('SIGTERM');
  }
}

/** User + system CPU seconds of an nginx master's worker processes (Linux /proc). */
function nginxWorkersCpuSeconds(masterPid: number): number {
  let ticks = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // fields after the command's closing parenthesis: state ppid … utime(14) stime(15)
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === masterPid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

/**
 * Revocation → refused at the edge: two edge gateways follow the feed while the first serves a
 * steady load (another partner's key); each victim's key is warm in both caches, then revoked
 * through the API, and the time until BOTH gateways answer 401 (each polled every millisecond or
 * so, from the moment the request is sent) is measured from the revocation request, and beside it
 * the request's own answer (the 202) and how many refusals came before it.
 * It covers the commit, the trigger's feed row, the long polls noticing it and nginx applying it.
 */
async function edgeRevocationUnderLoad(stack: EmbeddedStack, first: { url: string; stop(): Promise<void> }, second: { url: string; stop(): Promise<void> }, loadKey: string) {
  try {
    const partners = await activePartners(stack, smoke ? 5 : 200);
    const status = async (gatewayUrl: string, key: string) => {
      const res = await fetch(`${gatewayUrl}/orders/1`, { headers: { 'x-api-key': key } });
      await res.body?.cancel();
      return res.status;
    };
    const background = runLoad({ url: `${first.url}/orders/7`, connections: 4, durationSeconds: smoke ? 5 : 40, headers: { 'x-api-key': loadKey } });
    const fromRequest: number[] = [];
    const fromAnswer: number[] = [];
    const answers: number[] = [];
    let beforeAnswer = 0;
    for (const p of partners) {
      for (const url of [first.url, second.url]) {
        if ((await status(url, p.apiKey)) !== 200 || (await status(url, p.apiKey)) !== 200) throw new Error('edge: the warm-up did not pass');
      }
      // The gateways are asked while the request is in flight: a refusal may come before the 202
      // (the change is committed before the workflow is signalled, and only the commit matters here).
      const t0 = performance.now();
      const answered = stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, stack.tokens.sec, { reason: 'bench' }).then((res) => {
        if (res.status !== 202) throw new Error(`revocation ${res.status}`);
        return performance.now();
      });
      answered.catch(() => undefined); // awaited below; a failure must not surface as unhandled first
      const refused = await Promise.all([first.url, second.url].map((url) => until(async () => (await status(url, p.apiKey)) === 401, 10_000, 1)));
      if (refused.includes(false)) throw new Error('edge: a revoked key was still served 10 s after the revocation');
      const t2 = performance.now();
      const t1 = await answered;
      fromRequest.push(t2 - t0);
      answers.push(t1 - t0);
      fromAnswer.push(Math.max(0, t2 - t1));
      if (t2 < t1) beforeAnswer++;
    }
    const load = await background;
    const summary = (ms: number[]) => ({ p50ms: round(percentile(ms, 50), 2), p99ms: round(percentile(ms, 99), 2), maxms: round(Math.max(...ms), 2) });
    return {
      revocations: partners.length,
      gateways: 2,
      backgroundLoad: { rps: round(load.requestsPerSecond), non2xx: load.non2xx, errors: load.errors, errorCodes: load.errorCodes },
      fromRequest: summary(fromRequest),
      /** the revocation request's own answer (its commit, then the workflow's signal) */
      requestAnswered: summary(answers),
      /** after the 202 arrived; 0 when both gateways refused before it */
      from202: summary(fromAnswer),
      refusedBefore202: beforeAnswer,
    };
  } finally {
    await second.stop();
  }
}

async function onboarding(stack: EmbeddedStack) {
  const started = performance.now();
  const ids = await pool(N, 32, async (i) => {
    const res = await stack.call('POST', '/v1/partners', undefined, submission(100_000 + i));
    if (res.status !== 202) throw new Error(`submission ${res.status}`);
    return res.json.partnerId as string;
  });
  const httpSeconds = (performance.now() - started) / 1000;
  const allPending = await until(async () => (await submitted(stack, ids)) === ids.length, 600_000, 200);
  const pendingSeconds = (performance.now() - started) / 1000;
  return {
    partners: N,
    httpRequestsPerSecond: round(N / httpSeconds),
    secondsUntilAllPendingApproval: round(pendingSeconds, 2),
    allReachedPending: allPending,
    sustainedStartsPerSecond: round(N / pendingSeconds),
    ids,
  };
}

async function decisions(stack: EmbeddedStack, ids: string[]) {
  const latencies: number[] = [];
  await pool(ids.length, 8, async (i) => {
    const t0 = performance.now();
    const res = await stack.call('POST', `/v1/partners/${ids[i]}/decisions`, stack.tokens.alice, { decision: 'approve', reason: 'bench' });
    latencies.push(performance.now() - t0);
    if (res.status !== 200 || !res.json.keyId) throw new Error(`decision ${res.status}`);
  });
  return { decisions: ids.length, concurrency: 8, p50ms: round(percentile(latencies, 50)), p99ms: round(percentile(latencies, 99)) };
}

async function revocation(stack: EmbeddedStack) {
  const count = smoke ? 5 : 50;
  const measure = async (partners: { partnerId: string; apiKey: string }[]) => {
    const latencies: number[] = [];
    for (const p of partners) {
      const t0 = performance.now();
      const res = await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, stack.tokens.sec, { reason: 'bench' });
      if (res.status !== 202) throw new Error(`revocation ${res.status}`);
      await until(async () => (await stack.call('POST', '/v1/introspect', stack.tokens.gw, { token: p.apiKey })).json.active === false, 10_000, 1);
      latencies.push(performance.now() - t0);
    }
    return { revocations: partners.length, p50ms: round(percentile(latencies, 50), 2), p99ms: round(percentile(latencies, 99), 2) };
  };
  const withWorker = await measure(await activePartners(stack, count));
  const victims = await activePartners(stack, count);
  await stack.stopWorker();
  const withoutWorker = await measure(victims);
  await stack.startWorker();
  return { withWorker, withWorkerStopped: withoutWorker };
}

async function scale(stack: EmbeddedStack) {
  const t0 = performance.now();
  let done = 0;
  const progress = setInterval(() => process.stdout.write(`  scale: ${done}/${M} partners active\n`), 15_000);
  const partners = await pool(M, 24, async (i) => {
    const sub = await stack.call('POST', '/v1/partners', undefined, submission(200_000 + i));
    const { partnerId } = sub.json as { partnerId: string };
    await until(async () => (await submitted(stack, [partnerId])) === 1, 120_000, 50);
    const decided = await stack.call('POST', `/v1/partners/${partnerId}/decisions`, stack.tokens.alice, { decision: 'approve', reason: 'bench' });
    if (decided.status !== 200) throw new Error(`decision ${decided.status}`);
    done++;
    return partnerId;
  });
  clearInterval(progress);
  const creationSeconds = (performance.now() - t0) / 1000;
  const memory = await stack.workerStats();
  const sample = partners.slice(0, 20);
  const eventsPerRun = await Promise.all(sample.map(async (id) => (await stack.client.workflow.getHandle(`partner-${id}`).fetchHistory()).events?.length ?? 0));

  // The wave: every partner's review opens recertifyEvery − 1 s after its activation. Counted
  // from the audit trail's new rows since the last look (its seq is the primary key), so a look
  // costs what was opened meanwhile: a query naming all M partners, twice a second, took a tenth
  // of the machine from the system under test at M = 10 000.
  const mine = new Set(partners);
  const openedSoFar = new Set<string>();
  let auditSeen = 0;
  const opened = async () => {
    const rows = await stack.db
      .selectFrom('audit_events')
      .select(['seq', 'partner_id', 'action'])
      .where('seq', '>', auditSeen)
      .orderBy('seq')
      .execute();
    for (const r of rows) {
      auditSeen = r.seq;
      if (r.action === 'recertification.opened' && r.partner_id && mine.has(r.partner_id)) openedSoFar.add(r.partner_id);
    }
    return openedSoFar.size;
  };
  const activated = new Map(
    (await stack.db.selectFrom('audit_events').select(['partner_id', 'at']).where('action', '=', 'partner.activated').execute()).map((r) => [r.partner_id, r.at]),
  );
  const dueAt = (id: string) => Date.parse(activated.get(id)!) + (WAVE_AFTER - 1) * 1000;
  const scheduled = partners.map(dueAt);
  const firstDue = Math.min(...scheduled);
  const lastDue = Math.max(...scheduled);

  // burst: the worker is away while every timer comes due, so when it returns all M reviews are due
  // together (the server fires the timers; the worker faces M workflow tasks at once)
  let openedBeforeBurst: number | undefined;
  let workerBackAt: number | undefined;
  let workerStartSeconds: number | undefined;
  if (WAVE === 'burst') {
    openedBeforeBurst = await opened();
    await stack.stopWorker();
    process.stdout.write(`  scale: worker stopped; all ${M} reviews due within ${round((lastDue - Date.now()) / 1000)} s\n`);
    await new Promise((r) => setTimeout(r, Math.max(0, lastDue - Date.now()) + 2000));
    const restarting = performance.now();
    await stack.startWorker();
    workerBackAt = Date.now();
    workerStartSeconds = round((performance.now() - restarting) / 1000);
  }
  const waveStart = performance.now();
  const waveCpu = cpuMeter(stack.pids);
  const allOpened = await until(async () => (await opened()) >= M, (WAVE_AFTER + creationSeconds + 1800) * 1000, 500);
  const waveSeconds = (performance.now() - waveStart) / 1000;
  const cpuDuringWave = waveCpu();
  // the worker's SQLite commits over the wave (burst: the worker restarted for it) and the
  // transactions they held (schema/sqlite-group-commit.ts)
  const commits = (await stack.workerStats()).commits;
  const rows = await stack.db
    .selectFrom('audit_events')
    .select(['at as openedAt', 'partner_id'])
    .where('action', '=', 'recertification.opened')
    .execute();
  // live: how late each timer's effect landed after its due time; burst: after the worker returned
  const lateness = rows.filter((r) => mine.has(r.partner_id!)).map((r) => Date.parse(r.openedAt) - Math.max(dueAt(r.partner_id!), workerBackAt ?? 0));
  return {
    partners: M,
    creationSeconds: round(creationSeconds),
    workerRssMb: mb(memory.rss),
    workerHeapUsedMb: mb(memory.heapUsed),
    appDbMb: mb(fileSize(stack.dbFile)),
    temporalDbMb: mb(fileSize(stack.temporalDbFile)),
    eventsPerRunAvg: round(eventsPerRun.reduce((a, b) => a + b, 0) / eventsPerRun.length),
    wave: {
      mode: WAVE,
      recertifyEverySeconds: WAVE_AFTER - 1 + ANSWER_WINDOW,
      answerWindowSeconds: ANSWER_WINDOW,
      scheduledSpreadSeconds: round((lastDue - firstDue) / 1000),
      ...(WAVE === 'burst' ? { openedBeforeBurst, workerStartSeconds, secondsFromWorkerBackToAllOpened: round(waveSeconds), reviewsOpenedPerSecond: round(M / waveSeconds) } : { secondsWaited: round(waveSeconds) }),
      allFired: allOpened,
      notFired: M - lateness.length,
      latenessP50ms: round(percentile(lateness, 50)),
      latenessP99ms: round(percentile(lateness, 99)),
      latenessMaxMs: round(Math.max(...lateness)),
      cpu: cpuDuringWave,
      ...(commits ? { workerCommits: commits.groups, workerTransactionsPerCommit: round(commits.members / Math.max(commits.groups, 1), 2) } : {}),
    },
  };
}

/** the filesystem type under a path, from /proc/mounts (longest mount point that contains it) */
function filesystemOf(dir: string): string {
  try {
    const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((line) => line.split(' ')).filter((f) => f.length > 2);
    const best = mounts.filter(([, at]) => dir === at || dir.startsWith(at === '/' ? '/' : `${at}/`)).sort((a, b) => b[1]!.length - a[1]!.length)[0];
    return best ? `${best[2]} on ${best[1]}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

const machine = { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', memoryGb: round(os.totalmem() / 1024 ** 3), node: process.version, platform: `${os.type()} ${os.release()}` };
const results: Record<string, unknown> = {};
const stack = await startEmbeddedStack({
  maxAccess: '365 days',
  approvalTimeout: '10 days',
  approvalReminders: [],
  escalateAfter: '9 days',
  // the review opens WAVE_AFTER − 1 s after activation (the largest reminder opens it) and is due ANSWER_WINDOW s later
  recertifyEvery: `${WAVE_AFTER - 1 + ANSWER_WINDOW}s`,
  recertReminders: [`${ANSWER_WINDOW}s`],
  suspendedGrace: '10 days',
  expiryWarnings: [],
  // the load runs hammer one partner's key: its tier must not be what is measured
  rateLimitTiers: { standard: { requests: 1_000_000_000, window: '1 minute' }, elevated: { requests: 1_000_000_000, window: '1 minute' } },
});
let failed = false;
try {
  process.stdout.write(`partner-access bench: n=${N} m=${M} duration=${DURATION}s connections=${CONNECTIONS} (${stack.temporalVersion})\n`);
  const phase = async <T extends object>(name: string, run: () => Promise<T>): Promise<T> => {
    process.stdout.write(`  ${name} ...\n`);
    const cpu = cpuMeter(stack.pids);
    const result = await run();
    return { ...result, cpu: cpu() };
  };
  if (only.has('intro')) results.introspection = await phase('introspection', () => introspection(stack));
  if (only.has('gateway')) results.gateway = await phase('gateway', () => gatewayPath(stack));
  if (only.has('edgerestart')) results.edgeRestart = await phase('edge restart', () => edgeRestartUnderLoad(stack));
  let pendingIds: string[] = [];
  if (only.has('onboarding')) {
    const { ids, ...rest } = await phase('onboarding', () => onboarding(stack));
    pendingIds = ids;
    results.onboarding = rest;
  }
  if (only.has('decision')) {
    if (pendingIds.length === 0) pendingIds = (await onboarding(stack)).ids;
    const ids = pendingIds;
    results.decisionRoundTrip = await phase('decisions', () => decisions(stack, ids));
  }
  if (only.has('revocation')) results.revocation = await phase('revocation', () => revocation(stack));
  if (only.has('scale')) results.scale = await phase('scale', () => scale(stack));
} catch (err) {
  failed = true;
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
} finally {
  await stack.stop();
}

// the storage under both SQLite files matters to the write-bound phases (TMPDIR=/dev/shm puts them on tmpfs)
const storage = { dir: stack.dir, filesystem: filesystemOf(stack.dir) };
const report = { at: new Date().toISOString(), machine, temporal: stack.temporalVersion, storage, workerSandbox, sizes: { n: N, m: M, durationSeconds: DURATION, connections: CONNECTIONS, smoke, only: values.only ?? 'all', answerWindowSeconds: ANSWER_WINDOW }, results };
const rows = flatten(results);
const width = Math.max(...rows.map(([k]) => k.length), 10);
process.stdout.write(`\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);

const dir = path.resolve(import.meta.dirname, 'results');
fs.mkdirSync(dir, { recursive: true });
const stamp = report.at.replace(/[:.]/g, '-');
// a smoke run or a run of some phases never replaces the full run's latest.md
const kind = smoke ? 'smoke' : values.only ? 'partial' : undefined;
fs.writeFileSync(path.join(dir, `${stamp}${kind ? `-${kind}` : ''}.json`), `${JSON.stringify(report, null, 2)}\n`);
fs.writeFileSync(
  path.join(dir, kind ? `latest-${kind}.md` : 'latest.md'),
  markdownReport(
    `partner-access benchmark, ${report.at}${smoke ? ' (smoke size)' : values.only ? ` (only ${values.only})` : ''}`,
    [
      `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GiB, Node ${machine.node}, ${machine.platform}; ${report.temporal}.`,
      `Sizes: n=${N}, m=${M}, ${DURATION} s per load run, ${CONNECTIONS} connections. Storage: ${storage.filesystem} (${storage.dir}).`,
    ],
    rows,
  ),
);
process.exit(failed ? 1 : 0);
