/**
 * What tracing costs (issue #17 item 2): one app served twice, plain and through the HTTP span
 * (runtime/tracing.ts `tracedFetch`, what OTEL_EXPORTER_OTLP_ENDPOINT turns on), spans batched and
 * exported over OTLP/HTTP to a receiver in this process that takes and drops them; the same load,
 * interleaved. The tracer provider is installed for the whole process, so "off" here still has its
 * context manager: off in production (no endpoint) installs nothing at all.
 *
 *   npx tsx bench/tracing-overhead.ts [--duration 5] [--connections 10] [--rounds 2]
 *
 * About 6 × rounds × duration seconds of load, plus a dev server and one partner's approval.
 */
import { parseArgs } from 'node:util';
import { createApp } from '../api/app.js';
import http from 'node:http';
import { unlimitedRateLimits } from '../config/limits.js';
import { httpCall, startLocalStack } from '../runtime/local-stack.js';
import { createLogger } from '../runtime/services.js';
import { installTemporalRuntime } from '../runtime/temporal-runtime.js';
import { runLoad, type LoadResult } from './load.js';
import { startTracing, tracedFetch } from '../runtime/tracing.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '10' }, rounds: { type: 'string', default: '2' } } });
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);

// the OTLP receiver: counts the spans' bytes and drops them
let exportedBytes = 0;
const receiver = http.createServer((req, res) => {
  req.on('data', (c: Buffer) => (exportedBytes += c.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const tracing = startTracing(`http://127.0.0.1:${(receiver.address() as import('node:net').AddressInfo).port}`, 'partner-access-bench')!;

const logger = createLogger('warn');
installTemporalRuntime(logger);
const local = await startLocalStack({ name: 'pa-bench-tracing-', taskQueue: 'bench-tracing', logger });
try {
  const plainApp = createApp(local.appDeps({ limits: unlimitedRateLimits }));
  const tracedApp = { fetch: tracedFetch(plainApp.fetch) } as unknown as typeof plainApp;
  const plain = await local.listen(plainApp);
  const metered = await local.listen(tracedApp);
  const alice = await local.operator('alice', ['approver']);
  const gw = await local.operator('gw', ['gateway']);

  // one active partner and its key (the worker only for this; the load runs without it)
  await local.startWorker();
  const submitted = await httpCall(plain, 'POST', '/v1/partners', undefined, {
    name: 'Bench Tracing', contactEmail: 'dev@bench.example', sponsor: 'alice', environment: 'sandbox', scopes: ['orders:read'], justification: 'measure the tracing',
  });
  const { partnerId, requestToken } = submitted.json as { partnerId: string; requestToken: string };
  for (let i = 0; ; i++) {
    const decided = await httpCall(plain, 'POST', `/v1/partners/${partnerId}/decisions`, alice, { decision: 'approve', reason: 'bench' });
    if (decided.status === 200) break;
    if (i > 50) throw new Error(`approval failed: ${decided.text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  let apiKey = '';
  for (let i = 0; !apiKey; i++) {
    const pickup = await httpCall(plain, 'POST', `/v1/partners/${partnerId}/credentials/pickup`, requestToken);
    if (pickup.status === 200) apiKey = pickup.json.apiKey as string;
    else if (i > 50) throw new Error(`pickup failed: ${pickup.text}`);
    else await new Promise((r) => setTimeout(r, 200));
  }
  await local.stopWorker();
  const badChecksum = apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A');

  const common = { connections: CONNECTIONS, durationSeconds: DURATION };
  const loads = {
    healthz: (base: string) => runLoad({ ...common, url: `${base}/healthz` }),
    introspectValid: (base: string) => introspect(base, apiKey),
    introspectBadChecksum: (base: string) => introspect(base, badChecksum),
  };
  function introspect(base: string, token: string) {
    return runLoad({ ...common, url: `${base}/v1/introspect`, method: 'POST', headers: { authorization: `Bearer ${gw}`, 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  }

  const results: Record<string, { off: LoadResult[]; on: LoadResult[] }> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, load] of Object.entries(loads)) {
      const r = (results[name] ??= { off: [], on: [] });
      // alternate which goes first, so neither always runs on a warmer process
      const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const which of order) r[which].push(await load(which === 'off' ? plain : metered));
    }
  }
  const mean = (rs: LoadResult[], f: (r: LoadResult) => number) => Math.round((rs.reduce((s, r) => s + f(r), 0) / rs.length) * 10) / 10;
  const rows = Object.entries(results).map(([name, { off, on }]) => ({
    measurement: name,
    offRps: mean(off, (r) => r.requestsPerSecond),
    onRps: mean(on, (r) => r.requestsPerSecond),
    ratioOnToOff: Math.round((mean(on, (r) => r.requestsPerSecond) / mean(off, (r) => r.requestsPerSecond)) * 100) / 100,
    offP99ms: mean(off, (r) => r.p99),
    onP99ms: mean(on, (r) => r.p99),
    errorsOrNon2xx: [...off, ...on].reduce((s, r) => s + r.errors + r.non2xx, 0),
  }));
  console.table(rows);

  // The span's own cost, without sockets or a load generator: in-process requests to
  // /healthz, in alternating batches, CPU time per request with and without the span.
  const perRequest: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let batch = 0; batch < 10; batch++) {
    for (const which of batch % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const fetch = which === 'off' ? plainApp.fetch : tracedApp.fetch;
      const started = process.cpuUsage();
      for (let i = 0; i < 5000; i++) await fetch(new Request('http://bench/healthz'));
      const used = process.cpuUsage(started);
      perRequest[which].push((used.user + used.system) / 5000);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const inProcess = { healthzCpuMicrosOff: Math.round(median(perRequest.off) * 10) / 10, healthzCpuMicrosOn: Math.round(median(perRequest.on) * 10) / 10 };
  console.table([inProcess]);
  await tracing.spanProcessor.forceFlush();
  console.log(JSON.stringify({ at: new Date().toISOString(), duration: DURATION, connections: CONNECTIONS, rounds: ROUNDS, rows, inProcess, exportedBytes }));
} finally {
  await local.stop();
  await tracing.shutdown();
  receiver.close();
}
