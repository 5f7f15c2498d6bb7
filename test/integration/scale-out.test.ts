/**
 * Scale-out (issue #13) as an operator runs it: two `npm run api` and two `npm run worker`
 * processes on one Postgres and one Temporal server, nginx balancing the API. Partners are
 * submitted, approved and revoked through different API processes; a revocation through one is
 * refused at introspection through the other at once; one API and one worker are killed -9 in the
 * middle of a batch of approvals, and nothing is lost or duplicated; budgets hold across both APIs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateDataKey } from '../../domain/sealed-box.js';
import { freePort } from '../../runtime/dev-server.js';
import { startGateway } from '../../runtime/gateway.js';
import { createOperator } from '../../runtime/operators.js';
import { migrateToLatest, openDatabase, type Db } from '../../schema/db.js';
import { verifyAuditChain } from '../../schema/repositories/audit.js';
import { createTestDatabase, dropTestDatabase } from '../helpers/postgres.js';
import { baseSubmission } from '../helpers/partners.js';
import { eventually, fastPolicyFile } from '../helpers/stack.js';

const root = path.resolve(import.meta.dirname, '../..');

interface Proc {
  child: ChildProcess;
  output: () => string;
}

describe('two APIs and two workers on one Postgres, behind nginx', () => {
  let databaseUrl: string;
  let db: Db;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const procs: Proc[] = [];
  let apis: string[] = [];
  let balancer: { url: string; stop(): Promise<void> };
  let workers: Proc[] = [];
  let apiProcs: Proc[] = [];
  let alice: string;
  let sec: string;
  let gw: string;

  function run(script: string, extra: Record<string, string> = {}): Proc {
    let out = '';
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', script)], { cwd: root, env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const proc = { child, output: () => out };
    procs.push(proc);
    return proc;
  }

  async function startApi(): Promise<{ url: string; proc: Proc }> {
    const port = await freePort();
    const proc = run('api-main.ts', { PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 60_000, 200).catch((err) => {
      throw new Error(`API did not start: ${(err as Error).message}\n${proc.output()}`);
    });
    return { url, proc };
  }

  async function call(base: string, method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined; // nginx's own page for a 502
    }
    return { status: res.status, json, text };
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-scale-'));
    databaseUrl = await createTestDatabase(inject('postgresUrl'));
    db = openDatabase({ kind: 'postgres', url: databaseUrl });
    await migrateToLatest(db);
    alice = await createOperator(db, 'alice', ['approver']);
    sec = await createOperator(db, 'sec', ['security']);
    gw = await createOperator(db, 'gw', ['gateway']);
    // the fast test policy with timers long enough that nothing expires or ends during the test
    const policy = JSON.parse(fs.readFileSync(fastPolicyFile, 'utf8'));
    for (const environment of Object.values<Record<string, unknown>>(policy.environments)) {
      Object.assign(environment, { maxAccess: '30 days', approvalTimeout: '1 hour', approvalReminders: [], escalateAfter: '50 minutes', recertifyEvery: '1 hour', recertReminders: ['10 minutes'], expiryWarnings: ['1 day'], rotationOverlap: '1 hour' });
    }
    const policyFile = path.join(dir, 'policy.json');
    fs.writeFileSync(policyFile, JSON.stringify(policy));
    env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: `pa-scale-${process.pid}-${Date.now()}`,
      WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      POLICY_FILE: policyFile,
      PICKUP_KEY: generateDataKey(),
      DATA_DIR: dir,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      // one budget of failed credentials across both APIs (counted in Postgres by default)
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '5',
      RATE_LIMIT_DECISIONS_PER_MINUTE: '1000',
      RATE_LIMIT_ONBOARDING_PER_MINUTE: '1000',
      // the balancer (and this test, standing for clients behind it) name the client in X-Forwarded-For
      TRUSTED_PROXIES: '127.0.0.1',
    };
    workers = [run('worker-main.ts'), run('worker-main.ts')];
    const [a, b] = await Promise.all([startApi(), startApi()]);
    apis = [a.url, b.url];
    apiProcs = [a.proc, b.proc];
    const port = await freePort();
    const upstreams = apis.map((u) => `server ${u.replace('http://', '')} max_fails=1 fail_timeout=30s;`).join(' ');
    balancer = await startGateway({
      port,
      apiUpstream: '',
      upstream: '',
      gatewayToken: '',
      runtimeDir: path.join(dir, 'nginx'),
      // round robin over both APIs; a refused connection (a killed API) goes on to the other one
      render: (o) => `worker_processes 1;
daemon off;
pid ${o.runtimeDir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${o.runtimeDir}/tmp/client_body;
  proxy_temp_path ${o.runtimeDir}/tmp/proxy;
  fastcgi_temp_path ${o.runtimeDir}/tmp/fastcgi;
  uwsgi_temp_path ${o.runtimeDir}/tmp/uwsgi;
  scgi_temp_path ${o.runtimeDir}/tmp/scgi;
  upstream partner_access_apis { ${upstreams} }
  server {
    listen 127.0.0.1:${o.port};
    location / { proxy_pass http://partner_access_apis; proxy_next_upstream error timeout; proxy_set_header X-Forwarded-For $remote_addr; }
  }
}
`,
    });
  }, 120_000);

  afterAll(async () => {
    await balancer?.stop();
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.child.exitCode === null && p.child.signalCode === null ? new Promise((r) => p.child.once('exit', r)) : undefined)));
    await db?.destroy();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const submitThrough = async (base: string, name: string) => {
    const res = await call(base, 'POST', '/v1/partners', undefined, { ...baseSubmission, name });
    expect(res.status, res.text).toBe(202);
    return res.json as { partnerId: string; requestToken: string };
  };
  const stateOf = async (base: string, id: string) => (await call(base, 'GET', `/v1/partners/${id}`, alice)).json?.state as string | undefined;

  it('submitted through one API, approved through the other, revoked through one and refused at once through the other', async () => {
    const [a, b] = apis as [string, string];
    const { partnerId, requestToken } = await submitThrough(a, 'Across');
    await eventually(async () => (await stateOf(b, partnerId)) === 'pending_approval');
    const approved = await call(b, 'POST', `/v1/partners/${partnerId}/decisions`, alice, { decision: 'approve', reason: 'through b' });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.json.state).toBe('active');
    const pickup = await call(a, 'POST', `/v1/partners/${partnerId}/credentials/pickup`, requestToken);
    expect(pickup.status, pickup.text).toBe(200);
    const apiKey = pickup.json.apiKey as string;
    expect((await call(b, 'POST', '/v1/introspect', gw, { token: apiKey })).json.active).toBe(true);

    const revoked = await call(a, 'POST', `/v1/partners/${partnerId}/revocation`, sec, { reason: 'contain' });
    expect(revoked.status, revoked.text).toBe(202);
    // no cache anywhere between the two: B reads the same database the moment A committed
    expect((await call(b, 'POST', '/v1/introspect', gw, { token: apiKey })).json).toMatchObject({ active: false });
    await eventually(async () => (await stateOf(b, partnerId)) === 'revoked');
  }, 60_000);

  it('the failed-credential budget is one across both APIs', async () => {
    const [a, b] = apis as [string, string];
    const wrong = `pat_${'y'.repeat(40)}`;
    const seen: number[] = [];
    // one client guessing (its own address, so the other tests' clients keep their budgets)
    const guesser = { 'x-forwarded-for': '203.0.113.9' };
    for (let i = 0; i < 8; i++) seen.push((await call(i % 2 ? b : a, 'GET', '/v1/inbox', wrong, undefined, guesser)).status);
    // 5 in all, not 5 each: from the sixth on, both refuse unchecked
    expect(seen).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
  }, 30_000);

  it('kill -9 of one API and one worker in the middle of a batch of approvals: nothing lost, nothing duplicated, the chain verifies', async () => {
    const partners: string[] = [];
    for (let i = 0; i < 12; i++) partners.push((await submitThrough(balancer.url, `Batch ${i}`)).partnerId);
    await eventually(async () => {
      for (const id of partners) if ((await stateOf(apis[1]!, id)) !== 'pending_approval') return false;
      return true;
    }, 30_000);

    const decisions = partners.map(async (id, i) => {
      if (i === 5) {
        apiProcs[0]!.child.kill('SIGKILL');
        workers[0]!.child.kill('SIGKILL');
      }
      // a client retries what failed in flight (a 502 from the killed API, a 503 while a workflow
      // task moves to the surviving worker); a decision that did land answers 409 the second time
      for (let attempt = 0; attempt < 20; attempt++) {
        const res = await call(balancer.url, 'POST', `/v1/partners/${id}/decisions`, alice, { decision: 'approve', reason: 'batch' });
        if (res.status === 200 || res.status === 409) return res.status;
        await new Promise((r) => setTimeout(r, 500));
      }
      return 0;
    });
    const outcomes = await Promise.all(decisions);
    expect([apiProcs[0]!.child.signalCode, workers[0]!.child.signalCode]).toEqual(['SIGKILL', 'SIGKILL']);
    expect(outcomes.every((s) => s === 200 || s === 409), JSON.stringify(outcomes)).toBe(true);

    // every partner active with exactly one key and one approval, through the surviving API
    const survivor = apis[1]!;
    let states: (string | undefined)[] = [];
    await eventually(async () => {
      states = await Promise.all(partners.map((id) => stateOf(survivor, id)));
      return states.every((s) => s === 'active');
    }, 60_000).catch((err) => {
      throw new Error(`${(err as Error).message}: states ${JSON.stringify(states)}, outcomes ${JSON.stringify(outcomes)}`);
    });
    const keys = await db.selectFrom('credentials').select(['partner_id']).where('partner_id', 'in', partners).execute();
    expect(keys).toHaveLength(partners.length);
    const approvals = await db.selectFrom('decisions').select('partner_id').where('partner_id', 'in', partners).where('kind', '=', 'approval').execute();
    expect(approvals).toHaveLength(partners.length);
    const issued = await db.selectFrom('audit_events').select('partner_id').where('partner_id', 'in', partners).where('action', '=', 'credential.issued').execute();
    expect(issued).toHaveLength(partners.length);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  }, 180_000);
});
