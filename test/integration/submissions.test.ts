import http from 'node:http';
import { serveApp } from '../helpers/gateway.js';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { findIdempotent, idempotencyClaim, idempotencyRef } from '../../api/idempotency.js';
import { claimIdempotencyKey, pruneExpiredIdempotencyKeys } from '../../schema/repositories/idempotency.js';
import { resumeUnstartedSubmissions, startLifecycle } from '../../api/submissions.js';
import type { PartnerRow } from '../../schema/database.js';
import { baseSubmission, decide, partnerRow, waitForAction } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Submissions across the trust boundary: Idempotency-Keys are the caller's own and expire, a
 * replay never revives a finished lifecycle, an accepted submission survives a failed workflow
 * start, and only sponsors and admins may file on a partner's behalf, within a budget.
 *
 * Longer than our ~300-line mark: one subject (the submission boundary) on one stack.
 */
let stack: Stack;
let server: Awaited<ReturnType<typeof serveApp>>;
let port: number;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: { approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [] },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.bob = await stack.operator('bob', ['approver']);
  t.adm = await stack.operator('adm', ['admin']);
  t.sec = await stack.operator('sec', ['security']);
  t.aud = await stack.operator('aud', ['auditor']);
  t.gw = await stack.operator('gw', ['gateway']);
  // the real HTTP server: the client address is the socket's peer
  server = await serveApp(stack);
  port = server.port;
}, 120_000);
afterAll(async () => {
  await server?.close();
  await stack?.stop();
});

/**
 * POST /v1/partners over a real socket from `localAddress` (all of 127/8 is loopback on Linux).
 * With `gate`, the headers go first and the body only once the gate opens.
 */
function submitFrom(localAddress: string, body: unknown, headers: Record<string, string> = {}, gate?: Promise<void>) {
  const data = JSON.stringify(body);
  return new Promise<{ status: number; json: any; text: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/partners',
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined, text });
        });
      },
    );
    req.on('error', reject);
    if (!gate) return req.end(data);
    req.flushHeaders();
    void gate.then(() => req.end(data));
  });
}

const partnerCount = async () => Number((await stack.db.selectFrom('partners').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const key = (label: string) => `${label}-${crypto.randomUUID()}`;

describe('Idempotency-Key: the caller’s own, never a stranger’s', () => {
  it('the same key and body from another client address is another request: its own partner and token, never the first one’s', async () => {
    const headers = { 'idempotency-key': key('shared') };
    const body = { ...baseSubmission, name: 'Original requester' };
    const first = await submitFrom('127.0.0.2', body, headers);
    expect(first.status, first.text).toBe(202);

    const again = await submitFrom('127.0.0.2', body, headers);
    expect(again.status, again.text).toBe(202);
    expect(again.json).toEqual(first.json);

    const stranger = await submitFrom('127.0.0.3', body, headers);
    expect(stranger.status, stranger.text).toBe(202);
    expect(stranger.json.partnerId).not.toBe(first.json.partnerId);
    expect(stranger.json.requestToken).not.toBe(first.json.requestToken);
    expect(stranger.text).not.toContain(first.json.requestToken);
    // and the stranger's own retry is idempotent in its own scope
    expect((await submitFrom('127.0.0.3', body, headers)).json).toEqual(stranger.json);
  });

  it('another address learns nothing about a key it never used: another body is a new request, not a 422', async () => {
    const headers = { 'idempotency-key': key('probe') };
    const first = await submitFrom('127.0.0.2', { ...baseSubmission, name: 'Probed' }, headers);
    expect(first.status, first.text).toBe(202);
    const probe = await submitFrom('127.0.0.3', { ...baseSubmission, name: 'Prober' }, headers);
    expect(probe.status, probe.text).toBe(202);
    expect(probe.json.partnerId).not.toBe(first.json.partnerId);
    // the original caller still gets the 422 for a changed body
    const changed = await submitFrom('127.0.0.2', { ...baseSubmission, name: 'Changed' }, headers);
    expect(changed.status).toBe(422);
  });

  it('operators’ keys are their own too', async () => {
    const headers = { 'idempotency-key': key('operator') };
    const byBob = await stack.call('POST', '/v1/partners', { token: t.bob, body: baseSubmission, headers });
    expect(byBob.status, byBob.text).toBe(202);
    const byAdmin = await stack.call('POST', '/v1/partners', { token: t.adm, body: baseSubmission, headers });
    expect(byAdmin.status, byAdmin.text).toBe(202);
    expect(byAdmin.json.partnerId).not.toBe(byBob.json.partnerId);
    expect((await stack.call('POST', '/v1/partners', { token: t.bob, body: baseSubmission, headers })).json).toEqual(byBob.json);
  });

  it('a claim that meets a live row of its key (another API process committed first) records nothing; an expired row makes way', async () => {
    const ref = idempotencyRef(stack.pickupKey, 'source:192.0.2.7', key('claim'), baseSubmission);
    const at = new Date().toISOString();
    const claim = (partnerId: string, when = at) =>
      stack.db.transaction().execute((trx) => claimIdempotencyKey(trx, idempotencyClaim(stack.pickupKey, ref, { partnerId, response: { partnerId }, at: when })));
    const { id } = await stack.db.selectFrom('partners').select('id').executeTakeFirstOrThrow();
    expect(await claim(id)).toBe(true);
    expect(await claim('SomeoneElse00001')).toBe(false);
    expect((await findIdempotent(stack.db, ref))?.partner_id).toBe(id);
    // a day later the key is free again
    const tomorrow = new Date(Date.now() + 24 * 3600_000 + 1000);
    expect(await findIdempotent(stack.db, ref, tomorrow.getTime())).toBeUndefined();
    expect(await claim(id, tomorrow.toISOString())).toBe(true);
  });

  it('requests with one key sent at once record one partner and all answer it', async () => {
    const headers = { 'idempotency-key': key('burst') };
    const body = { ...baseSubmission, name: 'Burst' };
    const before = await partnerCount();
    // every request is in the handler, waiting for its body, before any body is sent
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const pending = Array.from({ length: 6 }, () => submitFrom('127.0.0.4', body, headers, gate));
    await new Promise((r) => setTimeout(r, 300));
    open();
    const answers = await Promise.all(pending);
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(202));
    expect(new Set(answers.map((a) => a.json.partnerId)).size).toBe(1);
    expect(await partnerCount()).toBe(before + 1);
  });

  it('a key older than 24 h is a new request, and expired keys are pruned', async () => {
    const headers = { 'idempotency-key': key('old') };
    const first = await submitFrom('127.0.0.2', baseSubmission, headers);
    expect(first.status).toBe(202);
    const rowOf = () => stack.db.selectFrom('idempotency_keys').selectAll().where('partner_id', '=', first.json.partnerId).executeTakeFirst();
    expect(await rowOf()).toBeDefined();
    // a minute short of 24 h: still the same request
    await stack.db.updateTable('idempotency_keys').set({ created_at: new Date(Date.now() - 24 * 3600_000 + 60_000).toISOString() }).where('partner_id', '=', first.json.partnerId).execute();
    expect((await submitFrom('127.0.0.2', baseSubmission, headers)).json).toEqual(first.json);

    await stack.db.updateTable('idempotency_keys').set({ created_at: new Date(Date.now() - 24 * 3600_000 - 1000).toISOString() }).where('partner_id', '=', first.json.partnerId).execute();
    const later = await submitFrom('127.0.0.2', baseSubmission, headers);
    expect(later.status, later.text).toBe(202);
    expect(later.json.partnerId).not.toBe(first.json.partnerId);
    expect(later.json.requestToken).not.toBe(first.json.requestToken);

    // the loop of the API process deletes what has expired and keeps the rest
    const fresh = await stack.db.selectFrom('idempotency_keys').select('partner_id').where('partner_id', '=', later.json.partnerId).executeTakeFirst();
    expect(fresh).toBeDefined();
    await stack.db.insertInto('idempotency_keys').values({ key: 'k', scope: 's', body_hash: 'h', partner_id: 'gone', response: 'x', created_at: new Date(Date.now() - 25 * 3600_000).toISOString() }).execute();
    expect(await pruneExpiredIdempotencyKeys(stack.db)).toBeGreaterThanOrEqual(1);
    expect(await stack.db.selectFrom('idempotency_keys').select('key').where('created_at', '<', new Date(Date.now() - 24 * 3600_000).toISOString()).execute()).toEqual([]);
    expect(await stack.db.selectFrom('idempotency_keys').select('partner_id').where('partner_id', '=', later.json.partnerId).executeTakeFirst()).toEqual(fresh);
  });

  it('the table holds neither client addresses nor the keys themselves', async () => {
    const plain = key('plain');
    const res = await submitFrom('127.0.0.5', { ...baseSubmission, name: 'Stored' }, { 'idempotency-key': plain });
    expect(res.status).toBe(202);
    const row = await stack.db.selectFrom('idempotency_keys').selectAll().where('partner_id', '=', res.json.partnerId).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain('127.0.0.5');
    expect(JSON.stringify(row)).not.toContain(plain);
    expect(row.response).not.toContain(res.json.requestToken);
  });
});

describe('a replay after the lifecycle ended', () => {
  it('answers the partner’s current state and starts no new run', async () => {
    const headers = { 'idempotency-key': key('rejected') };
    const body = { ...baseSubmission, name: 'Rejected once' };
    const first = await stack.call('POST', '/v1/partners', { body, headers });
    expect(first.status, first.text).toBe(202);
    const { partnerId } = first.json as { partnerId: string };
    await waitForAction(stack, partnerId, 'partner.submitted');
    const rejected = await decide(stack, partnerId, t.alice!, { decision: 'reject', reason: 'no contract' });
    expect(rejected.status, rejected.text).toBe(200);
    const handle = stack.client.workflow.getHandle(`partner-${partnerId}`);
    expect(await handle.result()).toMatchObject({ state: 'rejected' });
    const ended = await handle.describe();

    const replay = await stack.call('POST', '/v1/partners', { body, headers });
    expect(replay.status, replay.text).toBe(202);
    expect(replay.json).toEqual({ ...first.json, state: 'rejected' });

    // no second run of the workflow id, now or a moment later
    await new Promise((r) => setTimeout(r, 1500));
    const latest = await handle.describe();
    expect(latest.runId).toBe(ended.runId);
    expect(latest.status.name).toBe('COMPLETED');
    const runs: string[] = [];
    for await (const run of stack.client.workflow.list({ query: `WorkflowId = "partner-${partnerId}"` })) runs.push(run.runId);
    expect(runs).toEqual([ended.runId]);
    expect((await partnerRow(stack, partnerId)).state).toBe('rejected');
  });

  it('a run stopped from the side door after its first write is not restarted by a replay either', async () => {
    const headers = { 'idempotency-key': key('terminated') };
    const body = { ...baseSubmission, name: 'Terminated' };
    const first = await stack.call('POST', '/v1/partners', { body, headers });
    expect(first.status, first.text).toBe(202);
    const { partnerId } = first.json as { partnerId: string };
    await waitForAction(stack, partnerId, 'partner.submitted');
    const handle = stack.client.workflow.getHandle(`partner-${partnerId}`);
    await handle.terminate('stopped outside the product');
    const ended = await handle.describe();

    const replay = await stack.call('POST', '/v1/partners', { body, headers });
    expect(replay.status, replay.text).toBe(202);
    expect(replay.json.partnerId).toBe(partnerId);
    const latest = await handle.describe();
    expect(latest.runId).toBe(ended.runId);
    expect(latest.status.name).toBe('TERMINATED');
  });
});

describe('a workflow start that fails after the row is committed', () => {
  it('keeps the submission: 202 with a working token, and the resume loop starts it', async () => {
    // An API whose Temporal connection is closed: every start fails for real.
    const dead = await Connection.connect({ address: stack.address });
    await dead.close();
    const broken = createApp({
      db: stack.db,
      temporal: { client: new Client({ connection: dead, namespace: 'default' }), taskQueue: stack.taskQueue },
      policy: () => stack.policy,
      pickupKey: stack.pickupKey,
      logger: stack.logger,
      limits: { onboardingPerMinute: 1000 },
    });
    const headers = { 'content-type': 'application/json', 'idempotency-key': key('orphan') };
    const body = JSON.stringify({ ...baseSubmission, name: 'Started late' });
    const res = await broken.request('/v1/partners', { method: 'POST', headers, body });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { partnerId: string; requestToken: string; state: string };
    expect(accepted.state).toBe('pending_approval');
    const row = await partnerRow(stack, accepted.partnerId);
    expect(row.transition_seq).toBe(0);
    await expect(stack.client.workflow.getHandle(`partner-${accepted.partnerId}`).describe()).rejects.toThrow(/not found/i);
    // a retry through the broken API is still the same request
    const retry = await broken.request('/v1/partners', { method: 'POST', headers, body });
    expect(retry.status).toBe(202);
    expect(await retry.json()).toEqual(accepted);

    // what the API process does every few seconds (runtime/roles.ts), once Temporal answers
    const resumed = await resumeUnstartedSubmissions({ db: stack.db, client: stack.client, taskQueue: stack.taskQueue, logger: stack.logger }, 0);
    expect(resumed).toBeGreaterThanOrEqual(1);
    await waitForAction(stack, accepted.partnerId, 'partner.submitted');
    const status = await stack.call('GET', `/v1/partners/${accepted.partnerId}`, { token: accepted.requestToken });
    expect(status.status, status.text).toBe(200);
    expect(status.json.state).toBe('pending_approval');
  });

  it('a run that ended before its first write does not strand the submission: the resume loop gives it a new run', async () => {
    // an API on a task queue no worker polls: the run starts and is stopped before it writes anything
    const idle = createApp({
      db: stack.db,
      temporal: { client: stack.client, taskQueue: `${stack.taskQueue}-idle` },
      policy: () => stack.policy,
      pickupKey: stack.pickupKey,
      logger: stack.logger,
    });
    const res = await idle.request('/v1/partners', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...baseSubmission, name: 'Stopped early' }) });
    expect(res.status).toBe(202);
    const { partnerId } = (await res.json()) as { partnerId: string };
    const handle = stack.client.workflow.getHandle(`partner-${partnerId}`);
    await handle.terminate('stopped before its first write');
    const stopped = await handle.describe();
    expect((await partnerRow(stack, partnerId)).transition_seq).toBe(0);

    await resumeUnstartedSubmissions({ db: stack.db, client: stack.client, taskQueue: stack.taskQueue, logger: stack.logger }, 0);
    await waitForAction(stack, partnerId, 'partner.submitted');
    const replacement = await handle.describe();
    expect(replacement.runId).not.toBe(stopped.runId);
    expect(replacement.status.name).toBe('RUNNING');
  });

  it('a run that finds no partner row fails at once (typed, not retried 200 times)', async () => {
    const missing = { ...(await partnerRow(stack, (await stack.db.selectFrom('partners').select('id').executeTakeFirstOrThrow()).id)), id: 'NoSuchPartner0001' } as PartnerRow;
    await startLifecycle(stack.client, stack.taskQueue, missing);
    const started = Date.now();
    const outcome = await stack.client.workflow
      .getHandle('partner-NoSuchPartner0001')
      .result()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(outcome).toBeInstanceOf(WorkflowFailedError);
    // the record is a local activity (issue #17 item 4): its failure is the workflow's cause as thrown
    const cause = (outcome as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('PartnerMissing');
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);
});

describe('who may submit on a partner’s behalf', () => {
  it('approvers and admins may; security, auditors and gateways get 403 with a reason and change nothing', async () => {
    for (const name of ['bob', 'adm'] as const) {
      const res = await stack.call('POST', '/v1/partners', { token: t[name], body: { ...baseSubmission, name: `Filed by ${name}` } });
      expect(res.status, `${name}: ${res.text}`).toBe(202);
      expect((await partnerRow(stack, res.json.partnerId)).requested_by).toBe(`operator:${name}`);
    }
    for (const name of ['sec', 'aud', 'gw'] as const) {
      const before = await partnerCount();
      const res = await stack.call('POST', '/v1/partners', { token: t[name], body: { ...baseSubmission, name: `Filed by ${name}` } });
      expect(res.status, `${name}: ${res.text}`).toBe(403);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.json.detail).toMatch(/approver, admin/);
      expect(await partnerCount()).toBe(before);
    }
  });

  it('each operator has a submission budget of its own → 429', async () => {
    const limited = createApp({
      db: stack.db,
      temporal: { client: stack.client, taskQueue: stack.taskQueue },
      policy: () => stack.policy,
      pickupKey: stack.pickupKey,
      logger: stack.logger,
      limits: { onboardingPerMinute: 2 },
    });
    const submit = async (token?: string) => {
      const res = await limited.request('/v1/partners', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ ...baseSubmission, name: 'Budgeted' }),
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    };
    expect((await submit(t.bob)).status).toBe(202);
    expect((await submit(t.bob)).status).toBe(202);
    const over = await submit(t.bob);
    expect(over.status).toBe(429);
    expect(Number(over.retryAfter)).toBeGreaterThan(0);
    // another operator's budget is its own
    expect((await submit(t.adm)).status).toBe(202);
  });
});

