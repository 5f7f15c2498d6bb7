/**
 * Issue #16 item 8 against the real parts: the shared dev server, a real worker and the API, all
 * with the payload codec (runtime/payload-codec.ts). What reaches Temporal's history is ciphertext;
 * a command written to Temporal without the key — the Temporal CLI, or a ciphertext copied from
 * another partner's history — is refused and leaves the partner as it was, and not wedged.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCodecServer } from '../../runtime/codec-server.js';
import { freePort } from '../../runtime/dev-server.js';
import { payloadDataConverter, payloadKeyring } from '../../runtime/payload-codec.js';
import { workflowIdFor } from '../../workflows/messages.js';
import { historyText } from '../helpers/histories.js';
import { activePartner, decide, partnerRow, submit } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

const run = promisify(execFile);
let stack: Stack;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack();
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
});
afterAll(() => stack?.stop());

/** The Temporal CLI against the run's server: what anyone who can reach the frontend can type. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(inject('temporalCliPath'), [...args, '--address', stack.address, '--namespace', 'default'], { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const status = (partnerId: string) => stack.client.workflow.getHandle(workflowIdFor(partnerId)).query<{ state: string; credentials: unknown[] }>('status');
const auditActors = async (partnerId: string) =>
  (await stack.db.selectFrom('audit_events').select('actor').where('partner_id', '=', partnerId).execute()).map((r) => r.actor);
const keysOf = (partnerId: string) => stack.db.selectFrom('credentials').selectAll().where('partner_id', '=', partnerId).execute();

describe('history holds ciphertext', () => {
  it('no reason, justification or contact in clear; the same history decrypted holds the reason', async () => {
    const contact = `codec-${Date.now()}@contact.example`;
    const justification = `Justification-${Date.now()}-only-in-ciphertext`;
    const { partnerId } = await submit(stack, { contactEmail: contact, justification });
    const reason = `Reason-${Date.now()}-only-in-ciphertext`;
    const res = await decide(stack, partnerId, t.alice!, { decision: 'approve', reason });
    expect(res.status, res.text).toBe(200);

    // what `temporal workflow show` or the Web UI without the codec read: the raw history
    const { stdout } = await run(inject('temporalCliPath'), ['workflow', 'show', '--workflow-id', workflowIdFor(partnerId), '--address', stack.address, '--output', 'json']);
    for (const secret of [contact, justification, reason]) {
      expect(stdout.includes(secret)).toBe(false);
      expect(stdout.includes(Buffer.from(secret).toString('base64').slice(0, 16))).toBe(false);
    }
    const history = await stack.client.workflow.getHandle(workflowIdFor(partnerId)).fetchHistory();
    const clear = historyText(history);
    expect(clear).toContain(Buffer.from('binary/encrypted').toString('base64')); // metadata values are base64 in the JSON form
    for (const secret of [contact, justification, reason]) expect(clear.includes(secret)).toBe(false);
    // the scan looks where the data is: decrypted with the stack's keys, the reason is there (the
    // contact and the justification never enter history: the API writes them to the read model)
    const decrypted = historyText(history, stack.payloadKeyring);
    expect(decrypted).toContain(reason);
  });
});

describe('a command written to Temporal without the key', () => {
  it('a forged decide from the Temporal CLI is refused: no approval, no key, no operator:bob, and the partner is not wedged', async () => {
    const { partnerId } = await submit(stack);
    const forged = JSON.stringify({ decision: 'approve', reason: 'forged', actor: { kind: 'operator', name: 'bob', roles: ['approver', 'security', 'admin'] } });
    const attempt = await cli('workflow', 'update', 'execute', '--workflow-id', workflowIdFor(partnerId), '--name', 'decide', '--input', forged);
    expect(attempt.code).not.toBe(0);
    expect(attempt.out).toMatch(/not authenticated/);
    // without any input, nothing went through the codec either
    const bare = await cli('workflow', 'update', 'execute', '--workflow-id', workflowIdFor(partnerId), '--name', 'decide');
    expect(bare.code).not.toBe(0);
    expect(bare.out).toMatch(/not authenticated \(no payload\)/);

    expect((await status(partnerId)).state).toBe('pending_approval');
    expect((await partnerRow(stack, partnerId)).state).toBe('pending_approval');
    expect(await keysOf(partnerId)).toHaveLength(0);
    expect(await auditActors(partnerId)).not.toContain('operator:bob');
    // a rejected update leaves nothing in history
    const history = await stack.client.workflow.getHandle(workflowIdFor(partnerId)).fetchHistory();
    expect(history.events!.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);

    // not wedged: a real approval through the API goes through at once
    const real = await decide(stack, partnerId, t.alice!, { decision: 'approve' });
    expect(real.status, real.text).toBe(200);
    expect(real.json.state).toBe('active');
    expect(await keysOf(partnerId)).toHaveLength(1);
    expect(await auditActors(partnerId)).toContain('operator:alice');
  });

  it('a forged emergencyRevoke signal from the Temporal CLI is dropped: the partner stays active and answers', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const forged = JSON.stringify({ reason: 'forged', actor: { kind: 'operator', name: 'bob', roles: ['security'] }, at: new Date().toISOString() });
    const attempt = await cli('workflow', 'signal', '--workflow-id', workflowIdFor(p.partnerId), '--name', 'emergencyRevoke', '--input', forged);
    expect(attempt.code, attempt.out).toBe(0); // Temporal takes a signal without asking the workflow
    const handle = stack.client.workflow.getHandle(workflowIdFor(p.partnerId));
    // the worker has handled the signal's task (the task completed: not failing and retrying)
    await eventually(async () => {
      const events = (await handle.fetchHistory()).events!;
      const signalled = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes);
      return signalled >= 0 && events.slice(signalled).some((e) => e.workflowTaskCompletedEventAttributes);
    });
    expect((await status(p.partnerId)).state).toBe('active');
    expect((await partnerRow(stack, p.partnerId)).state).toBe('active');
    expect(await auditActors(p.partnerId)).not.toContain('operator:bob');
    // and the workflow still takes real commands: a key rotation through the API
    const rotated = await stack.call('POST', `/v1/partners/${p.partnerId}/credentials/rotate`, { token: p.apiKey });
    expect(rotated.status, rotated.text).toBe(200);
  });

  it("a ciphertext copied from another partner's history is refused: bound to that partner's workflow", async () => {
    // partner A's approval, as recorded (encrypted) in A's history
    const a = await submit(stack);
    expect((await decide(stack, a.partnerId, t.alice!, { decision: 'approve', reason: 'approve A' })).status).toBe(200);
    const historyA = await stack.client.workflow.getHandle(workflowIdFor(a.partnerId)).fetchHistory();
    const accepted = historyA.events!.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'decide');
    const copied = accepted!.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.args!;
    expect(Buffer.from(copied.payloads![0]!.metadata!.encoding!).toString()).toBe('binary/encrypted');

    // replayed, byte for byte, into partner B's workflow over the raw gRPC API
    const b = await submit(stack);
    const response = await stack.client.workflowService.updateWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId: workflowIdFor(b.partnerId) },
      request: { meta: { updateId: `copied-${Date.now()}`, identity: 'attacker' }, input: { name: 'decide', args: copied } },
      waitPolicy: { lifecycleStage: temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED },
    });
    expect(response.outcome?.failure?.message).toMatch(/bound to another workflow/);
    expect((await partnerRow(stack, b.partnerId)).state).toBe('pending_approval');
    expect(await keysOf(b.partnerId)).toHaveLength(0);
  });
});

describe('migration: histories recorded before the codec', () => {
  const historiesDir = path.resolve(import.meta.dirname, '../fixtures/histories');
  const fixtures = () =>
    fs.readdirSync(historiesDir).map((f) => ({ workflowId: f, history: temporal.api.history.v1.History.decode(fs.readFileSync(path.join(historiesDir, f))) }));
  const replay = async (acceptPlaintext: boolean) => {
    const workflowBundle = { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
    const dataConverter = payloadDataConverter(payloadKeyring(stack.payloadKeys, acceptPlaintext));
    const errors: unknown[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle, dataConverter, replayName: 'codec-migration' }, fixtures())) errors.push(result.error);
    return errors;
  };

  it('replay with PAYLOAD_CODEC_ACCEPT_PLAINTEXT=true; without it, their plaintext is refused like a forgery', async () => {
    const migrating = await replay(true);
    expect(migrating.length).toBeGreaterThan(0);
    expect(migrating.every((e) => e === undefined)).toBe(true);
    const strict = await replay(false);
    expect(strict.some((e) => e !== undefined)).toBe(true);
  });
});

describe("the Web UI's codec endpoint (embedded stack)", () => {
  it('decodes a history payload for the UI origin only, on 127.0.0.1, and offers no /encode', async () => {
    const ui = 'http://127.0.0.1:8233';
    const server = await startCodecServer(stack.payloadKeyring, await freePort(), [ui]);
    try {
      const { partnerId } = await submit(stack);
      const reason = `UI-reason-${Date.now()}`;
      expect((await decide(stack, partnerId, t.alice!, { decision: 'approve', reason })).status).toBe(200);
      const history = await stack.client.workflow.getHandle(workflowIdFor(partnerId)).fetchHistory();
      const accepted = history.events!.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)!;
      const payload = accepted.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.args!.payloads![0]!;
      // what the UI posts: the payload's JSON form, bytes as base64
      const wire = {
        metadata: Object.fromEntries(Object.entries(payload.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        data: Buffer.from(payload.data!).toString('base64'),
      };
      const post = (path: string, origin: string, body: unknown) =>
        fetch(`${server.url}${path}`, { method: 'POST', headers: { origin, 'content-type': 'application/json', 'x-namespace': 'default' }, body: JSON.stringify(body) });

      const preflight = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { origin: ui, 'access-control-request-method': 'POST' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(ui);
      const decoded = await post('/decode', ui, { payloads: [wire] });
      expect(decoded.status).toBe(200);
      const [clear] = ((await decoded.json()) as { payloads: { data: string }[] }).payloads;
      expect(Buffer.from(clear!.data, 'base64').toString('utf8')).toContain(reason);

      expect((await post('/decode', 'https://evil.example', { payloads: [wire] })).status).toBe(403);
      expect((await post('/encode', ui, { payloads: [wire] })).status).toBe(404);
      expect((await post('/decode', ui, 'not payloads')).status).toBe(400);
    } finally {
      await server.close();
    }
  });
});
