/**
 * Issue #17: the worker's metrics. The Temporal runtime of this process is installed with a
 * Prometheus endpoint (WORKER_METRICS_ADDRESS's option) before anything else touches Temporal; a
 * real worker built by createWorker with the tuning variables' values runs a real lifecycle
 * (submission, approval, webhook notices), and the SDK's endpoint is scraped over HTTP.
 */
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { lifecyclePolicyFrom } from '../../config/policy.js';
import { defaultRetryPolicy } from '../../domain/notice-delivery.js';
import { createLogger } from '../../runtime/services.js';
import { installTemporalRuntime } from '../../runtime/temporal-runtime.js';
import { createWorker } from '../../worker.js';
import { submit } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const tuning = { maxCachedWorkflows: 50, maxConcurrentActivityTaskExecutions: 7, maxConcurrentWorkflowTaskExecutions: 5, workflowThreadPoolSize: 1, maxConcurrentWorkflowTaskPolls: 4, nonStickyToStickyPollRatio: 0.5, isolateExecutionTimeout: 5000, workflowStackTraces: false };
let metricsAddress: string;
let stack: Stack;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;

/** A port nobody listens on now (the SDK binds it itself). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  metricsAddress = `127.0.0.1:${await freePort()}`;
  // first in this process: the one Runtime the SDK allows is the one exporting metrics
  installTemporalRuntime(createLogger('silent'), 'WARN', metricsAddress);
  receiver = await startWebhookReceiver();
  stack = await startStack({ noWorker: true });
  connection = await NativeConnection.connect({ address: stack.address });
  worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: stack.taskQueue,
    db: stack.db,
    pickupKey: stack.pickupKey,
    payloadKeyring: stack.payloadKeyring,
    lifecyclePolicy: lifecyclePolicyFrom(stack.policyFile),
    webhooks: { endpoints: [{ name: 'default', url: receiver.url, secret: 'whsec_test_0123456789abcdef', events: ['*'] }], retry: defaultRetryPolicy },
    workflowBundle: { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') },
    tuning,
  });
  running = worker.run();
});
afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await connection?.close();
  await stack?.stop();
  await receiver?.close();
});

const scrape = async () => {
  const res = await fetch(`http://${metricsAddress}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
};

/** A series' value, matched by name and a subset of its labels. */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z_]+)\{(.*)\} (\S+)$/);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...m[2]!.matchAll(/([A-Za-z_]+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('the worker metrics', () => {
  it('the SDK serves temporal_ metrics for this task queue, with the tuned slots and our webhook deliveries', async () => {
    await stack.operator('alice', ['approver']);
    await submit(stack); // the workflow starts; its submission notice is POSTed to the receiver
    await eventually(async () => receiver.received.length > 0);
    const queue = { task_queue: stack.taskQueue };
    // what an activity records through its metricMeter is tagged by the TypeScript SDK as taskQueue / activityType;
    // the submission's notice is written with its transition (a local activity, issue #17 item 4)
    const ours = { taskQueue: stack.taskQueue, activityType: 'applyTransition' };
    const text = await eventually(async () => {
      const t = await scrape();
      return series(t, 'partner_access_webhook_deliveries', { ...ours, outcome: 'delivered' }) !== undefined &&
        series(t, 'temporal_worker_task_slots_available', { ...queue, worker_type: 'ActivityWorker' }) === tuning.maxConcurrentActivityTaskExecutions &&
        // all slots free once the worker is idle (a scrape during a task sees one taken)
        series(t, 'temporal_worker_task_slots_available', { ...queue, worker_type: 'WorkflowWorker' }) === tuning.maxConcurrentWorkflowTaskExecutions
        ? t
        : undefined;
    });
    expect(text).toMatch(/^temporal_workflow_task_execution_latency_bucket\{/m);
    expect(series(text, 'temporal_local_activity_execution_latency_count', { ...queue, activity_type: 'applyTransition' })).toBeGreaterThan(0);
    expect(series(text, 'partner_access_webhook_deliveries', { ...ours, outcome: 'delivered' })).toBeGreaterThanOrEqual(1);
  });
});
