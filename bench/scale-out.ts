/**
 * `npx tsx bench/scale-out.ts [--smoke]`: issue #13's numbers, on both dialects side by side in
 * one run, with one and with two API processes (`npm run api`, each its own process) and one
 * worker process: introspection req/s and p99 (autocannon on every API at once), onboarding
 * starts/s, a decision's round trip p50/p99, and revocation → refused at introspection through
 * the OTHER API, p50/p99/max. Postgres is a throwaway cluster (test/helpers/postgres.ts, the
 * test run's own); the Temporal dev server is the stack's own. Numbers go to
 * bench/results/scale-out-<stamp>.json and are recorded in bench/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { DatabaseConfig } from '../config/env.js';
import { freePort } from '../runtime/dev-server.js';
import { httpCall, startLocalStack } from '../runtime/local-stack.js';
import { createLogger } from '../runtime/services.js';
import { bundleWorkflows } from '../worker.js';
import { createTestDatabase, startPostgres } from '../test/helpers/postgres.js';
import { percentile, runLoad } from './load.js';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false } } });
const smoke = values.smoke!;
const SIZES = smoke ? { seconds: 2, connections: 8, partners: 12, revocations: 8 } : { seconds: 8, connections: 16, partners: 120, revocations: 100 };
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

const longTimers = { maxAccess: '30 days', approvalTimeout: '1 hour', approvalReminders: [], escalateAfter: '50 minutes', recertifyEvery: '1 hour', recertReminders: ['10 minutes'], expiryWarnings: ['1 day'], rotationOverlap: '1 hour' };
const body = (i: number) => ({ name: `Scale ${i}`, contactEmail: 'scale@example.com', sponsor: 'alice', environment: 'sandbox', scopes: ['orders:read'], justification: 'benchmark' });

async function measure(dialect: 'sqlite' | 'postgres', apiCount: 1 | 2, database: DatabaseConfig | undefined, bundleFile: string) {
  const stack = await startLocalStack({ name: 'pa-scale-', policyFile: path.join(root, 'test', 'fixtures', 'policy.fast.json'), policyOverrides: longTimers, taskQueue: 'scale', logger: createLogger('warn'), database });
  const children: ChildProcess[] = [];
  const run = (script: string, extra: Record<string, string>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', script)], {
      cwd: root,
      env: stack.processEnv({ WORKFLOW_BUNDLE: bundleFile, RATE_LIMIT_ONBOARDING_PER_MINUTE: '1000000', RATE_LIMIT_DECISIONS_PER_MINUTE: '1000000', ...extra }),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  };
  try {
    const alice = await stack.operator('alice', ['approver']);
    const sec = await stack.operator('sec', ['security']);
    const gw = await stack.operator('gw', ['gateway']);
    run('worker-main.ts', {});
    const apis: string[] = [];
    for (let i = 0; i < apiCount; i++) {
      const port = await freePort();
      run('api-main.ts', { PORT: String(port) });
      apis.push(`http://127.0.0.1:${port}`);
    }
    for (const api of apis) {
      for (let tries = 0; ; tries++) {
        const ok = await fetch(`${api}/readyz`).then((r) => r.status === 200, () => false);
        if (ok) break;
        if (tries > 300) throw new Error(`${api} not ready`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const api = (i: number) => apis[i % apis.length]!;

    // onboarding: submissions through every API at once, then until each workflow has written its first event
    const started = Date.now();
    const partners: { partnerId: string; requestToken: string }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < SIZES.partners) {
          const i = next++;
          const res = await httpCall(api(i), 'POST', '/v1/partners', undefined, body(i));
          if (res.status !== 202) throw new Error(`submission ${res.status} ${res.text}`);
          partners.push(res.json);
        }
      }),
    );
    for (;;) {
      const row = await stack.db.selectFrom('audit_events').select((eb) => eb.fn.countAll().as('n')).where('action', '=', 'partner.submitted').executeTakeFirstOrThrow();
      if (Number(row.n) >= partners.length) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const onboardingStartsPerSecond = partners.length / ((Date.now() - started) / 1000);

    // decisions, one at a time, alternating APIs: the round trip through the workflow update
    const roundTrips: number[] = [];
    for (const [i, p] of partners.entries()) {
      const t0 = performance.now();
      const res = await httpCall(api(i), 'POST', `/v1/partners/${p.partnerId}/decisions`, alice, { decision: 'approve', reason: 'bench' });
      roundTrips.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`decision ${res.status} ${res.text}`);
    }
    const keys: string[] = [];
    for (const [i, p] of partners.entries()) keys.push((await httpCall(api(i), 'POST', `/v1/partners/${p.partnerId}/credentials/pickup`, p.requestToken)).json.apiKey);

    // introspection on every API at once
    const loads = await Promise.all(
      apis.map((base) =>
        runLoad({
          url: `${base}/v1/introspect`,
          method: 'POST',
          headers: { authorization: `Bearer ${gw}`, 'content-type': 'application/json' },
          body: JSON.stringify({ token: keys[0] }),
          connections: SIZES.connections,
          durationSeconds: SIZES.seconds,
        }),
      ),
    );

    // revocation through one API → refused at introspection through the other (the same one with one API)
    const toRefused: number[] = [];
    for (let i = 1; i <= Math.min(SIZES.revocations, keys.length - 1); i++) {
      const t0 = performance.now();
      const res = await httpCall(api(i), 'POST', `/v1/partners/${partners[i]!.partnerId}/revocation`, sec, { reason: 'bench' });
      if (res.status !== 202) throw new Error(`revocation ${res.status} ${res.text}`);
      for (;;) {
        const seen = await httpCall(api(i + 1), 'POST', '/v1/introspect', gw, { token: keys[i] });
        if (seen.json?.active === false) break;
      }
      toRefused.push(performance.now() - t0);
    }
    return {
      dialect,
      apis: apiCount,
      introspection: { rps: round(loads.reduce((n, l) => n + l.requestsPerSecond, 0)), p99ms: Math.max(...loads.map((l) => l.p99)), non2xx: loads.reduce((n, l) => n + l.non2xx, 0) },
      onboardingStartsPerSecond: round(onboardingStartsPerSecond),
      decisionRoundTripMs: { p50: round(percentile(roundTrips, 50)), p99: round(percentile(roundTrips, 99)) },
      revocationToRefusedMs: { p50: round(percentile(toRefused, 50)), p99: round(percentile(toRefused, 99)), max: round(Math.max(...toRefused)), n: toRefused.length },
    };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await stack.stop();
  }
}

const bundleDir = fs.mkdtempSync(path.join(root, '.tools', 'scale-bundle-'));
const bundleFile = path.join(bundleDir, 'workflows.js');
fs.writeFileSync(bundleFile, (await bundleWorkflows()).code);
const postgres = await startPostgres({ autoInstall: true });
const results = [];
try {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    for (const apis of [1, 2] as const) {
      const database: DatabaseConfig | undefined = dialect === 'postgres' ? { kind: 'postgres', url: await createTestDatabase(postgres.url, 'scale') } : undefined;
      const result = await measure(dialect, apis, database, bundleFile);
      results.push(result);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  }
} finally {
  await postgres.stop();
  fs.rmSync(bundleDir, { recursive: true, force: true });
}
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
if (!smoke) fs.writeFileSync(path.join(root, 'bench', 'results', `scale-out-${stamp}.json`), `${JSON.stringify({ at: new Date().toISOString(), sizes: SIZES, results }, null, 2)}\n`);
process.stdout.write('\ndialect   apis  introspect rps  p99 ms  starts/s  decision p50/p99 ms  revoke→refused p50/p99/max ms\n');
for (const r of results) {
  process.stdout.write(
    `${r.dialect.padEnd(9)} ${String(r.apis).padEnd(5)} ${String(r.introspection.rps).padStart(14)} ${String(r.introspection.p99ms).padStart(7)} ${String(r.onboardingStartsPerSecond).padStart(9)} ${`${r.decisionRoundTripMs.p50}/${r.decisionRoundTripMs.p99}`.padStart(20)} ${`${r.revocationToRefusedMs.p50}/${r.revocationToRefusedMs.p99}/${r.revocationToRefusedMs.max}`.padStart(29)}\n`,
  );
}
