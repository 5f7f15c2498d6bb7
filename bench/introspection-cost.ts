/**
 * What one introspection costs the API beside `/healthz` (issue #14 item 5), side by side: one app
 * on one stack, autocannon in its own process against `/healthz`, a valid key and a bad-checksum
 * key, interleaved for several rounds; for each run the rate and the API process's CPU µs per
 * request (its user + system time over the run, divided by the requests answered). The API runs in
 * this process, so `node --cpu-prof --import tsx bench/introspection-cost.ts` profiles it
 * (bench/profile-summary.ts summarises the file; `--only healthz` or `--only valid` narrows the
 * profile to one load).
 *
 *   npx tsx bench/introspection-cost.ts [--duration 5] [--connections 10] [--rounds 3] [--only healthz,valid,bad]
 *   [--postgres]: the stack on a throwaway Postgres cluster (test/helpers/postgres.ts) instead of SQLite
 *   [--rate-limit-store memory|database]: where the credential-failure budget is counted (RATE_LIMIT_STORE;
 *   default memory here, as on SQLite; `database` is the Postgres default, a budget read per request)
 *   [--profile <dir>]: a V8 CPU profile of this process for each load run, only while it runs
 *   (`<dir>/<round>-<load>.cpuprofile`; summarise with bench/profile-summary.ts)
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createApp } from '../api/app.js';
import { DatabaseRateLimiter } from '../api/rate-limit.js';
import { unlimitedRateLimits } from '../config/limits.js';
import { generateApiKey, hashApiKey } from '../domain/api-key.js';
import { startLocalStack } from '../runtime/local-stack.js';
import { createLogger } from '../runtime/services.js';
import { installTemporalRuntime } from '../runtime/temporal-runtime.js';
import { createTestDatabase, startPostgres } from '../test/helpers/postgres.js';
import { runLoad } from './load.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: 'healthz,valid,bad' },
    postgres: { type: 'boolean', default: false },
    'rate-limit-store': { type: 'string', default: 'memory' },
    profile: { type: 'string' },
  },
});
const durationSeconds = Number(values.duration);
const connections = Number(values.connections);
const only = new Set(values.only.split(','));
const rateLimitStore = values['rate-limit-store'];
if (rateLimitStore !== 'memory' && rateLimitStore !== 'database') throw new Error('--rate-limit-store is memory or database');

const logger = createLogger('warn');
installTemporalRuntime(logger);
const postgres = values.postgres ? await startPostgres({ autoInstall: true }) : undefined;
const database = postgres ? { kind: 'postgres' as const, url: await createTestDatabase(postgres.url, 'intro') } : undefined;
const local = await startLocalStack({ name: 'pa-bench-intro-', taskQueue: 'bench-intro', logger, database });
try {
  const rateLimiter = rateLimitStore === 'database' ? new DatabaseRateLimiter(local.db) : undefined;
  const base = await local.listen(createApp(local.appDeps({ limits: unlimitedRateLimits, rateLimiter })));
  const gw = await local.operator('gw', ['gateway']);
  // an active partner and its key written straight to the database: introspection reads only these
  // two rows and never reaches Temporal, so no workflow (or worker) needs to run for it
  const { apiKey, keyId, prefix } = generateApiKey('sandbox');
  const now = new Date().toISOString();
  const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString();
  await local.db
    .insertInto('partners')
    .values({
      id: 'P-bench', name: 'Bench Partner', contact_email: 'dev@bench.example', sponsor: 'alice', requested_by: 'partner', environment: 'sandbox',
      scopes: '["orders:read"]', justification: 'seeded for a measurement', state: 'active', stage: null, escalated: 0, access_until: inAYear,
      next_deadline_at: null, next_deadline_action: null, policy_version: local.policy.version, rate_limit_tier: 'standard', request_token_hash: 'unused',
      recert_cycle: 0, last_certified_at: null, pending_extension: null, planned_offboarding: null, end_reason: null, ended_at: null,
      transition_seq: 0, created_at: now, updated_at: now,
    })
    .execute();
  await local.db
    .insertInto('credentials')
    .values({ key_id: keyId, partner_id: 'P-bench', version: 1, hash: hashApiKey(apiKey), prefix, environment: 'sandbox', status: 'active', created_at: now, expires_at: inAYear })
    .execute();
  const badChecksum = apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A');

  const introspect = (token: string) => () =>
    runLoad({ connections, durationSeconds, url: `${base}/v1/introspect`, method: 'POST', headers: { authorization: `Bearer ${gw}`, 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  const loads = Object.entries({
    healthz: () => runLoad({ connections, durationSeconds, url: `${base}/healthz` }),
    valid: introspect(apiKey),
    bad: introspect(badChecksum),
  }).filter(([name]) => only.has(name));

  const profiler = values.profile ? new Session() : undefined;
  if (profiler) {
    fs.mkdirSync(values.profile!, { recursive: true });
    profiler.connect();
    await profiler.post('Profiler.enable');
  }
  const rows: Array<Record<string, number | string>> = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    // rotate the order so no load always runs first on a colder process
    const order = loads.map((_, i) => loads[(i + round) % loads.length]!);
    for (const [name, load] of order) {
      if (profiler) await profiler.post('Profiler.start');
      const started = process.cpuUsage();
      const result = await load();
      const used = process.cpuUsage(started);
      if (profiler) {
        const { profile } = await profiler.post('Profiler.stop');
        fs.writeFileSync(`${values.profile}/${round}-${name}.cpuprofile`, JSON.stringify(profile));
      }
      rows.push({
        round,
        load: name,
        rps: Math.round(result.requestsPerSecond),
        p99ms: result.p99,
        cpuMicrosPerRequest: Math.round(((used.user + used.system) / result.total) * 10) / 10,
        non2xx: result.non2xx,
        errors: result.errors,
        errorCodes: Object.entries(result.errorCodes).map(([code, n]) => `${code}:${n}`).join(' '),
      });
    }
  }
  console.table(rows);
  const mean = (name: string, field: string) => {
    const xs = rows.filter((r) => r.load === name).map((r) => r[field] as number);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const summary = loads.map(([name]) => ({
    load: name,
    rps: Math.round(mean(name, 'rps')),
    ratioToHealthz: only.has('healthz') ? Math.round((mean(name, 'rps') / mean('healthz', 'rps')) * 100) / 100 : NaN,
    cpuMicrosPerRequest: Math.round(mean(name, 'cpuMicrosPerRequest') * 10) / 10,
  }));
  console.table(summary);
  console.log(JSON.stringify({ at: new Date().toISOString(), loadAverage: os.loadavg(), dialect: postgres ? 'postgres' : 'sqlite', rateLimitStore, durationSeconds, connections, rows, summary }));
} finally {
  await local.stop();
  await postgres?.stop();
}
