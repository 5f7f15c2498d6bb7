/**
 * What a feature costs the API (issue #17): the same stack and database served twice, without
 * the feature ("off") and with it ("on"), under the same loads, interleaved so a busy machine moves
 * both alike; then the in-process CPU per /healthz request of each, without sockets or a load
 * generator. bench/metrics-overhead.ts and bench/tracing-overhead.ts say what "on" is.
 */
import { parseArgs } from 'node:util';
import { activePartnerOverHttp, type LocalStack } from '../runtime/local-stack.js';
import { runLoad, type LoadResult } from './load.js';

export interface Served {
  fetch: (request: Request) => Response | Promise<Response>;
}

export function overheadArgs() {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '10' }, rounds: { type: 'string', default: '2' } } });
  return { duration: Number(values.duration), connections: Number(values.connections), rounds: Number(values.rounds) };
}

export async function measureOverhead(local: LocalStack, apps: { off: Served; on: Served }, args = overheadArgs()) {
  const off = await local.listen(apps.off as never);
  const on = await local.listen(apps.on as never);
  const alice = await local.operator('alice', ['approver']);
  const gw = await local.operator('gw', ['gateway']);
  // one active partner and its key (the worker only for this; the load runs without it)
  await local.startWorker();
  const { apiKey } = await activePartnerOverHttp(off, alice);
  await local.stopWorker();
  const badChecksum = apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A');

  const common = { connections: args.connections, durationSeconds: args.duration };
  const introspect = (base: string, token: string) =>
    runLoad({ ...common, url: `${base}/v1/introspect`, method: 'POST', headers: { authorization: `Bearer ${gw}`, 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  const loads = {
    healthz: (base: string) => runLoad({ ...common, url: `${base}/healthz` }),
    introspectValid: (base: string) => introspect(base, apiKey),
    introspectBadChecksum: (base: string) => introspect(base, badChecksum),
  };
  const results: Record<string, { off: LoadResult[]; on: LoadResult[] }> = {};
  for (let round = 0; round < args.rounds; round++) {
    for (const [name, load] of Object.entries(loads)) {
      const r = (results[name] ??= { off: [], on: [] });
      // alternate which goes first, so neither always runs on a warmer process
      const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const which of order) r[which].push(await load(which === 'off' ? off : on));
    }
  }
  const mean = (rs: LoadResult[], f: (r: LoadResult) => number) => Math.round((rs.reduce((s, r) => s + f(r), 0) / rs.length) * 10) / 10;
  const rows = Object.entries(results).map(([name, r]) => ({
    measurement: name,
    offRps: mean(r.off, (x) => x.requestsPerSecond),
    onRps: mean(r.on, (x) => x.requestsPerSecond),
    ratioOnToOff: Math.round((mean(r.on, (x) => x.requestsPerSecond) / mean(r.off, (x) => x.requestsPerSecond)) * 100) / 100,
    offP99ms: mean(r.off, (x) => x.p99),
    onP99ms: mean(r.on, (x) => x.p99),
    errorsOrNon2xx: [...r.off, ...r.on].reduce((s, x) => s + x.errors + x.non2xx, 0),
  }));
  console.table(rows);

  const perRequest: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let batch = 0; batch < 10; batch++) {
    for (const which of batch % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const started = process.cpuUsage();
      for (let i = 0; i < 5000; i++) await apps[which].fetch(new Request('http://bench/healthz'));
      const used = process.cpuUsage(started);
      perRequest[which].push((used.user + used.system) / 5000);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const inProcess = { healthzCpuMicrosOff: Math.round(median(perRequest.off) * 10) / 10, healthzCpuMicrosOn: Math.round(median(perRequest.on) * 10) / 10 };
  console.table([inProcess]);
  return { at: new Date().toISOString(), ...args, rows, inProcess };
}
