/**
 * Issue #17: the workflow sandbox's two switches (scripts/patch-temporal-sdk.mjs). A real worker,
 * built by createWorker, runs a real lifecycle without the activation watchdog (Node refuses a
 * timeout of 0 on every call into the sandbox unless the SDK is patched, so every workflow task
 * would fail), and the Temporal UI's stack-trace query answers only on a worker started with
 * WORKER_WORKFLOW_STACK_TRACES=on.
 */
import fs from 'node:fs';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { lifecyclePolicyFrom } from '../../config/policy.js';
import { createWorker, type WorkerTuning } from '../../worker.js';
import { workflowIdFor } from '../../workflows/messages.js';
import { submit, waitForState } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let connection: NativeConnection;
const tuning: WorkerTuning = {
  maxCachedWorkflows: 20,
  maxConcurrentActivityTaskExecutions: 5,
  maxConcurrentWorkflowTaskExecutions: 4,
  workflowThreadPoolSize: 1,
  maxConcurrentWorkflowTaskPolls: 2,
  nonStickyToStickyPollRatio: 0.5,
  isolateExecutionTimeout: 0, // WORKER_ACTIVATION_TIMEOUT=off
};

/** Runs `body` with a worker of this test's tuning; its workflow thread reads WORKER_WORKFLOW_STACK_TRACES as it starts. */
async function withWorker(stackTraces: 'on' | 'off', body: () => Promise<void>): Promise<void> {
  const before = process.env.WORKER_WORKFLOW_STACK_TRACES;
  process.env.WORKER_WORKFLOW_STACK_TRACES = stackTraces;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  try {
    worker = await createWorker({
      connection,
      namespace: 'default',
      taskQueue: stack.taskQueue,
      db: stack.db,
      pickupKey: stack.pickupKey,
      payloadKeyring: stack.payloadKeyring,
      lifecyclePolicy: lifecyclePolicyFrom(stack.policyFile),
      workflowBundle: { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') },
      tuning,
    });
    running = worker.run();
    await body();
  } finally {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    if (before === undefined) delete process.env.WORKER_WORKFLOW_STACK_TRACES;
    else process.env.WORKER_WORKFLOW_STACK_TRACES = before;
  }
}

beforeAll(async () => {
  stack = await startStack({ noWorker: true });
  connection = await NativeConnection.connect({ address: stack.address });
  await stack.operator('alice', ['approver']);
});
afterAll(async () => {
  await connection?.close();
  await stack?.stop();
});

const stackTrace = (partnerId: string) => stack.client.workflow.getHandle(workflowIdFor(partnerId)).query<string>('__stack_trace');

describe('the workflow sandbox switches', () => {
  it('without the activation watchdog a lifecycle runs; with stack traces off the stack-trace query is refused', async () => {
    await withWorker('off', async () => {
      const { partnerId } = await submit(stack);
      await waitForState(stack, partnerId, 'pending_approval');
      await expect(stackTrace(partnerId)).rejects.toThrow(/stack traces are not enabled on this worker/);
    });
  });

  it('with WORKER_WORKFLOW_STACK_TRACES=on the query shows where the lifecycle waits', async () => {
    await withWorker('on', async () => {
      const { partnerId } = await submit(stack);
      await waitForState(stack, partnerId, 'pending_approval');
      // the approval phase waits for a decision or its deadline: the trace names our code
      expect(await stackTrace(partnerId)).toMatch(/workflows\/lifecycle\//);
    });
  });
});
