/**
 * Fuzzes the running API with schemathesis against its own OpenAPI document, once per kind of
 * caller (each operator role, a partner's request token and key, no credentials), with every check
 * plus ours (scripts/fuzz-checks.py: a caller never gets a 2xx from an operation its role may not
 * use; no credentials never pass a secured operation). Any failure makes the exit code 1.
 *
 *   node --import tsx scripts/fuzz-api.ts [--max-examples N] [--seed S] [--long] [--only a,b] [--keep]
 *
 * A real stack on free loopback ports in a temp dir: a Temporal dev server, SQLite, the worker and
 * the API twice: once with rate limits out of the way (what the callers run against, so a 429 does
 * not hide the real answer) and once with the default limits (the rate-limited operations, so their
 * 429 is checked against the document too). Before each caller, fresh partners are seeded (a pending
 * one and an active one with its key), and `{id}` is drawn from them most of the time.
 * schemathesis: $SCHEMATHESIS, else .tools/venv/bin/st (scripts/install-schemathesis.sh), else `st`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createApp } from '../api/app.js';
import { unlimitedRateLimits } from '../config/limits.js';
import { httpCall, startLocalStack, type LocalStack } from '../runtime/local-stack.js';
import { createLogger } from '../runtime/services.js';
import { installTemporalRuntime } from '../runtime/temporal-runtime.js';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    'max-examples': { type: 'string' },
    seed: { type: 'string', default: '20261123' },
    long: { type: 'boolean', default: false },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const maxExamples = values['max-examples'] ?? (values.long ? '300' : '20');
const localSt = path.join(root, '.tools', 'venv', 'bin', 'st');
// absolute: schemathesis runs in a scratch directory, where a relative path would not resolve
const fromEnv = process.env.SCHEMATHESIS;
const st = fromEnv ? (fromEnv.includes('/') ? path.resolve(fromEnv) : fromEnv) : fs.existsSync(localSt) ? localSt : 'st';

/** Operations (schemathesis labels) each caller may get a 2xx from; everything else must be refused. */
const publicOps = ['GET /healthz', 'GET /readyz', 'POST /v1/partners'];
const partnerRead = ['GET /v1/partners/{id}', 'GET /v1/partners/{id}/timeline'];
const operatorRead = ['GET /v1/partners', ...partnerRead];
const audit = ['GET /v1/audit', 'GET /v1/audit/verify', 'GET /v1/governance/drift', 'GET /v1/notifications/dead-letters'];
// security's suspension and resumption; the sponsor hand-over and the rate tier (admin too)
const governance = ['POST /v1/partners/{id}/suspension', 'POST /v1/partners/{id}/resumption', 'DELETE /v1/partners/{id}/suspension', 'POST /v1/partners/{id}/sponsor', 'POST /v1/partners/{id}/rate-tier'];
const allowed: Record<string, string[]> = {
  anonymous: publicOps,
  approver: [...publicOps, ...operatorRead, 'GET /v1/inbox', 'POST /v1/partners/{id}/decisions', 'POST /v1/partners/{id}/recertifications', 'POST /v1/partners/{id}/offboarding'],
  security: [
    ...publicOps,
    ...operatorRead,
    ...audit,
    'GET /v1/inbox',
    'POST /v1/partners/{id}/decisions',
    // security's keep is the security stage of a drifted grant (docs/LIFECYCLE.md)
    'POST /v1/partners/{id}/recertifications',
    'POST /v1/partners/{id}/revocation',
    'POST /v1/revocations',
    'POST /v1/notifications/{id}/redelivery',
    ...governance,
  ],
  auditor: [...publicOps, ...operatorRead, ...audit, 'GET /v1/operators'],
  admin: [...publicOps, ...operatorRead, ...audit, 'POST /v1/notifications/{id}/redelivery', 'POST /v1/partners/{id}/erasure', 'POST /v1/partners/{id}/offboarding', 'POST /v1/partners/{id}/sponsor', 'POST /v1/partners/{id}/rate-tier', 'GET /v1/operators', 'POST /v1/operators', 'POST /v1/operators/{name}/rotation', 'POST /v1/operators/{name}/revocation'],
  gateway: [...publicOps, 'POST /v1/introspect', 'GET /v1/gateway/auth', 'GET /v1/gateway/verdict', 'GET /v1/gateway/changes', 'POST /v1/gateway/usage'],
  // a partner submits nothing for others: POST /v1/partners is 403 with its credentials
  requestToken: ['GET /healthz', 'GET /readyz', ...partnerRead, 'POST /v1/partners/{id}/credentials/pickup', 'POST /v1/partners/{id}/extension', 'POST /v1/partners/{id}/offboarding'],
  apiKey: ['GET /healthz', 'GET /readyz', ...partnerRead, 'POST /v1/partners/{id}/credentials/rotate', 'POST /v1/partners/{id}/extension', 'POST /v1/partners/{id}/offboarding'],
};

// ---- the stack (runtime/local-stack.ts) -----------------------------------------------------
const logLines: string[] = [];
const logger = createLogger('warn', new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }));
installTemporalRuntime(logger);

let failed = 0;
let stack: LocalStack | undefined;
try {
  // The fast test policy with timers long enough that nothing moves on its own during a run.
  stack = await startLocalStack({
    name: 'pa-fuzz-',
    policyFile: path.join(root, 'test', 'fixtures', 'policy.fast.json'),
    policyOverrides: {
      maxAccess: '30 days',
      approvalTimeout: '1 hour',
      approvalReminders: [],
      escalateAfter: '50 minutes',
      recertifyEvery: '1 hour',
      recertReminders: ['10 minutes'],
      expiryWarnings: ['1 day'],
      rotationOverlap: '1 hour',
    },
    taskQueue: 'fuzz',
    logger,
  });
  const { db, dir, policy } = stack;
  await stack.startWorker({ identity: 'fuzz-worker' });
  const deps = stack.appDeps({ updateDeadlineMs: 10_000 });
  const api = await stack.listen(createApp({ ...deps, limits: unlimitedRateLimits }));
  const limitedApi = await stack.listen(createApp(deps));

  // ---- seed ------------------------------------------------------------------------------------
  const operators = {
    approver: await stack.operator('alice', ['approver']),
    security: await stack.operator('sec', ['security']),
    auditor: await stack.operator('aud', ['auditor']),
    admin: await stack.operator('root', ['admin']),
    gateway: await stack.operator('gw', ['gateway']),
  };
  async function call(method: string, url: string, token?: string, body?: unknown) {
    const res = await httpCall(api, method, url, token, body);
    if (res.status >= 300) throw new Error(`seeding: ${method} ${url} answered ${res.status}: ${res.text}`);
    return res.json as Record<string, string>;
  }
  async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 300; i++) {
      const value = await fn();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`seeding: ${what} did not happen within 30 s`);
  }
  let seeded = 0;
  async function submit(name: string) {
    const { partnerId, requestToken } = await call('POST', '/v1/partners', undefined, {
      name,
      contactEmail: 'fuzz@example.com',
      sponsor: 'alice',
      environment: 'sandbox',
      scopes: ['orders:read', 'catalog:read'],
      justification: 'fuzzing the API',
    });
    await until('partner.submitted', () =>
      db.selectFrom('audit_events').select('seq').where('partner_id', '=', partnerId!).where('action', '=', 'partner.submitted').executeTakeFirst(),
    );
    return { partnerId: partnerId!, requestToken: requestToken! };
  }
  /** A partner waiting for its sponsor, and an active one (approved, key picked up). */
  async function seed() {
    seeded++;
    const pending = await submit(`Fuzz pending ${seeded}`);
    const active = await submit(`Fuzz active ${seeded}`);
    await call('POST', `/v1/partners/${active.partnerId}/decisions`, operators.approver, { decision: 'approve', reason: 'fuzz' });
    const { apiKey } = await call('POST', `/v1/partners/${active.partnerId}/credentials/pickup`, active.requestToken);
    return { pending, active: { ...active, apiKey: apiKey! } };
  }

  // ---- run -------------------------------------------------------------------------------------
  const hooks = path.join(root, 'scripts', 'fuzz-checks.py');
  interface Outcome {
    status: number | null;
    out: string;
    seconds: number;
    generated: number;
    failures: number;
  }
  async function schemathesis(name: string, base: string, token: string | undefined, partnerIds: string[], extra: string[] = []): Promise<Outcome> {
    const config = path.join(dir, `${name}.toml`);
    fs.writeFileSync(
      config,
      [
        // `{id}` (and the audit filter) is one of the seeded partners most of the time; sponsors
        // and scopes the policy knows, so bodies get past the business rules to the workflow.
        `[dictionaries.partners]`,
        `values = ${JSON.stringify(partnerIds)}`,
        `[dictionaries.sponsors]`,
        `values = ["alice", "sec"]`,
        `[dictionaries.scopes]`,
        `values = ${JSON.stringify(Object.keys(policy.scopes))}`,
        `[parameters]`,
        `"path.id" = { dictionary = "partners", probability = 0.75 }`,
        `"query.partnerId" = { dictionary = "partners", probability = 0.5 }`,
        `"body.sponsor" = { dictionary = "sponsors", probability = 0.5 }`,
        `"body.scopes[*]" = { dictionary = "scopes", probability = 0.5 }`,
        // Schema-valid is not business-valid: an unknown sponsor or scope is a documented 422, a
        // decision outside its stage a 409, someone else's partner a 404. What schema-valid data
        // must never get is a 400 (the document would promise more than the validation accepts),
        // a 413/415 or a 5xx.
        `[checks.positive_data_acceptance]`,
        `expected-statuses = ["2XX", "401", "403", "404", "409", "410", "422", "429", "503"]`,
        '',
      ].join('\n'),
    );
    const args = [
      '--config-file', config,
      'run', `${base}/openapi.json`,
      '--checks', 'all',
      '--max-examples', maxExamples,
      '--seed', values.seed!,
      '--workers', '1',
      '--request-timeout', '30',
      '--generation-database', 'none',
      '--report', 'junit,ndjson', '--report-dir', path.join(dir, 'reports', name),
      '--no-color',
      ...(token ? ['--header', `Authorization: Bearer ${token}`] : []),
      ...extra,
    ];
    const started = Date.now();
    // asynchronously: the API under test runs in this very process
    const result = await new Promise<{ status: number | null; out: string }>((resolve, reject) => {
      const child = spawn(st, args, {
        cwd: dir, // schemathesis' and hypothesis' caches stay out of the repository
        env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_HOOKS: hooks, FUZZ_CALLER: name.replace(/[@:].*/, ''), FUZZ_ALLOWED: JSON.stringify(allowed) },
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.once('error', reject);
      child.once('exit', (status) => resolve({ status, out }));
    });
    const lines = result.out.split('\n');
    const counts = lines[lines.findIndex((l) => l.startsWith('Test cases:')) + 1] ?? '';
    return {
      ...result,
      seconds: (Date.now() - started) / 1000,
      generated: Number(/(\d+) generated/.exec(counts)?.[1] ?? 0),
      failures: Number(/(\d+) unique failures?/.exec(counts)?.[1] ?? (result.status === 0 ? 0 : 1)),
    };
  }
  function report(name: string, outcomes: Outcome[]) {
    const bad = outcomes.filter((o) => o.status !== 0);
    const sum = (f: (o: Outcome) => number) => outcomes.reduce((n, o) => n + f(o), 0);
    const verdict = bad.length === 0 ? 'ok' : `FAILED (${sum((o) => o.failures)} unique failures)`;
    process.stdout.write(`${name.padEnd(17)} ${verdict.padEnd(28)} ${String(sum((o) => o.generated)).padStart(5)} cases  ${Math.round(sum((o) => o.seconds))} s\n`);
    for (const o of bad) process.stdout.write(`${o.out}\n`);
    if (bad.length > 0) failed++;
  }

  // Operations that end or change the seeded partners (offboard, revoke; suspend, which refuses the
  // key the other operations use; a hand-over, which takes the partner from its sponsor) run after
  // the rest, on the same seeds.
  const ending = ['POST /v1/partners/{id}/offboarding', 'POST /v1/partners/{id}/revocation', 'POST /v1/revocations', ...governance];
  // Rotating or revoking an operator may take a fuzzing caller's own token away (a generated name
  // can be one of ours): run last, after every caller, as admin.
  const operatorChanges = ['POST /v1/operators/{name}/rotation', 'POST /v1/operators/{name}/revocation'];
  const only = values.only?.split(',');
  const callerNames = ['anonymous', 'approver', 'security', 'auditor', 'admin', 'gateway', 'requestToken', 'apiKey'];
  process.stdout.write(`schemathesis ${st}: ${maxExamples} examples per operation, seed ${values.seed}\n`);
  const fuzzStarted = Date.now();
  for (const name of callerNames.filter((n) => !only || only.includes(n))) {
    // fresh partners for each caller: the previous one may have revoked, offboarded or rotated them
    const { pending, active } = await seed();
    const token =
      name === 'anonymous' ? undefined : name === 'requestToken' ? active.requestToken : name === 'apiKey' ? active.apiKey : operators[name as keyof typeof operators];
    // no credentials means none at all (invalid ones are ignored_auth's probes in the other runs)
    const auth = token ? [] : ['--generation-with-security-parameters', 'false'];
    const ids = [active.partnerId, pending.partnerId];
    report(name, [
      await schemathesis(name, api, token, ids, [...auth, ...[...ending, ...operatorChanges].flatMap((op) => ['--exclude-name', op])]),
      await schemathesis(`${name}:ending`, api, token, ids, [...auth, ...ending.flatMap((op) => ['--include-name', op])]),
    ]);
  }
  // With the default limits: the public submission and the decisions, where a 429 is a real answer.
  if (!only || only.includes('limits')) {
    const { pending, active } = await seed();
    const ids = [active.partnerId, pending.partnerId];
    report('limits', [
      await schemathesis('anonymous@limits', limitedApi, undefined, ids, ['--include-name', 'POST /v1/partners']),
      await schemathesis('approver@limits', limitedApi, operators.approver, ids, [
        '--include-name', 'POST /v1/partners/{id}/decisions',
        '--include-name', 'POST /v1/partners/{id}/recertifications',
      ]),
    ]);
  }
  if (!only || only.includes('admin')) {
    const { pending, active } = await seed();
    report('admin:operators', [await schemathesis('admin:operators', api, operators.admin, [active.partnerId, pending.partnerId], operatorChanges.flatMap((op) => ['--include-name', op]))]);
  }
  const serverErrors = logLines.filter((l) => l.includes('"unhandled error"'));
  if (serverErrors.length > 0) {
    failed++;
    process.stdout.write(`${serverErrors.length} unhandled errors in the API log, the first:\n${serverErrors[0]}\n`);
  }
  process.stdout.write(`${failed === 0 ? 'no failures' : `${failed} run(s) failed`}; fuzzing took ${Math.round((Date.now() - fuzzStarted) / 1000)} s\n`);
} catch (err) {
  failed++;
  process.stderr.write(`${(err as Error).stack}\n`);
} finally {
  if (values.keep && stack) {
    await stack.close();
    process.stdout.write(`kept ${stack.dir}\n`);
  } else await stack?.stop();
}
process.exit(failed > 0 ? 1 : 0);
