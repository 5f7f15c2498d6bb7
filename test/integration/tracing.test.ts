/**
 * Issue #17 item 2 against real parts: the API and worker processes' own wiring
 * (runtime/processes.ts) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a real OTLP/HTTP receiver
 * (a server in this test, taking the exporter's JSON). One HTTP request is one trace: the API's
 * span, the Temporal client's, the workflow's and its activities'. The request id reaches the
 * workflow's and the activities' log lines. No span carries a secret.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/env.js';
import { freePort } from '../../runtime/dev-server.js';
import { runApiProcess, runWorkerProcess, type Running } from '../../runtime/processes.js';
import { payloadDataConverter } from '../../runtime/payload-codec.js';
import { createLogger } from '../../runtime/services.js';
import { bundleWorkflows } from '../../worker.js';
import { installTemporalRuntime } from '../../runtime/temporal-runtime.js';
import { baseSubmission, partnerRow } from '../helpers/partners.js';
import { findSecrets } from '../helpers/secret-scan.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}

const spans: ReceivedSpan[] = [];
const bodies: string[] = [];
const logLines: string[] = [];
let receiver: http.Server;
let stack: Stack;
let worker: Running | undefined;
let api: (Running & { url: string }) | undefined;
let alice: string;

beforeAll(async () => {
  // first in this process: the one Temporal runtime logs the SDK's workflow and activity lines (debug)
  const logger = createLogger('debug', new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }));
  installTemporalRuntime(logger, 'DEBUG');
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      bodies.push(text);
      if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json')) {
        for (const rs of JSON.parse(text).resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a: { key: string }) => a.key === 'service.name')?.value?.stringValue;
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId, name: s.name, service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as import('node:net').AddressInfo).port}`;

  stack = await startStack({ noWorker: true });
  alice = await stack.operator('alice', ['approver']); // the submissions' sponsor
  const config = loadConfig({
    PORT: String(await freePort()),
    DATA_DIR: stack.dir,
    DATABASE_URL: stack.databaseUrl,
    POLICY_FILE: stack.policyFile,
    PICKUP_KEY: stack.pickupKeyHex,
    PAYLOAD_KEYS: stack.payloadKeys,
    TEMPORAL_ADDRESS: stack.address,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    LOG_LEVEL: 'silent',
  });
  const target = { address: stack.address, namespace: 'default', options: {} };
  // no WORKFLOW_BUNDLE: the worker bundles at start, with the tracing interceptors
  worker = await runWorkerProcess(config, target, stack.db, logger);
  api = await runApiProcess(config, target, stack.db, logger);
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await worker?.stop();
  await stack?.stop();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

const post = (path: string, body: unknown, token?: string) =>
  fetch(`${api!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

/** The spans of the trace whose HTTP span is `name`, once `expected` are all in it. */
async function traceOf(httpSpan: string, expected: RegExp[]) {
  return eventually(async () => {
    const root = spans.find((s) => s.name === httpSpan);
    if (!root) return undefined;
    const trace = spans.filter((s) => s.traceId === root.traceId);
    return expected.every((re) => trace.some((s) => re.test(s.name))) ? { root, trace } : undefined;
  }, 30_000, 200);
}

describe('one trace from the HTTP request through the workflow to its activities', () => {
  it('a submission: API span → StartWorkflow → RunWorkflow → StartActivity → RunActivity, one trace id; the request id in workflow and activity logs', async () => {
    const submitted = await post('/v1/partners', { ...baseSubmission, name: 'Traced Co' });
    expect(submitted.status, await submitted.clone().text()).toBe(202);
    const requestId = submitted.headers.get('x-request-id')!;
    const { partnerId } = (await submitted.json()) as { partnerId: string };

    const { root, trace } = await traceOf('POST /v1/partners', [/^StartWorkflow:partnerLifecycle$/, /^RunWorkflow:partnerLifecycle$/, /^StartActivity:/, /^RunActivity:/]);
    expect(root.service).toBe('partner-access');
    expect(root.parentSpanId ?? '').toBe('');
    // every span of the trace hangs from the request's span, none is a stray root
    expect(trace.filter((s) => !s.parentSpanId)).toEqual([root]);

    // the request id, carried in Temporal headers, names the workflow's and the activities' log lines
    await eventually(async () => logLines.some((l) => l.includes(requestId) && l.includes(partnerId) && /[Aa]ctivity/.test(l)), 15_000);
    expect(logLines.some((l) => l.includes(requestId) && /[Ww]orkflow/.test(l) && l.includes('"workflowId"'))).toBe(true);
  });

  it('a decision: API span → StartWorkflowUpdate:decide → HandleUpdate:decide, one trace id; spans carry no secret and no reason', async () => {
    const submitted = await post('/v1/partners', { ...baseSubmission, name: 'Traced Decision Co' });
    const { partnerId, requestToken } = (await submitted.json()) as { partnerId: string; requestToken: string };
    await eventually(async () => (await partnerRow(stack, partnerId)).state === 'pending_approval');
    const reason = `Traced-reason-${Date.now()}`;
    const decided = await post(`/v1/partners/${partnerId}/decisions`, { decision: 'approve', reason }, alice);
    expect(decided.status, await decided.clone().text()).toBe(200);
    await traceOf(`POST /v1/partners/${partnerId}/decisions`, [/^StartWorkflowUpdate:decide$/, /^HandleUpdate:decide$/]);

    const exported = bodies.join('\n');
    expect(findSecrets(exported)).toEqual([]);
    for (const secret of [reason, requestToken, alice]) expect(exported.includes(secret)).toBe(false);
  });
});

describe('turning tracing on for live workflows', () => {
  it('the recorded histories (made without tracing) replay with the tracing interceptors bundled', async () => {
    const dir = path.resolve(import.meta.dirname, '../fixtures/histories');
    const histories = fs.readdirSync(dir).map((f) => ({ workflowId: f, history: temporal.api.history.v1.History.decode(fs.readFileSync(path.join(dir, f))) }));
    const workflowBundle = await bundleWorkflows({ tracing: true });
    expect(workflowBundle.code).toContain('OpenTelemetryInboundInterceptor');
    // the fixtures predate the payload codec: replayed as in its migration
    const dataConverter = payloadDataConverter({ ...stack.payloadKeyring, acceptPlaintext: true });
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle, dataConverter, replayName: 'tracing-on' }, histories)) {
      expect(result.error, result.workflowId).toBeUndefined();
      replayed++;
    }
    expect(replayed).toBe(histories.length);
  }, 60_000);
});
