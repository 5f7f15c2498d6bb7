/**
 * Issue #17: the workflow sandbox's two switches (scripts/patch-temporal-sdk.mjs). A real worker,
 * built by createWorker from the tuning the WORKER_* variables give, runs a real lifecycle without
 * the activation watchdog (Node refuses a timeout of 0 on every call into the sandbox unless the
 * SDK is patched, so every workflow task would fail), and the Temporal UI's stack-trace query
 * answers only on a worker started with WORKER_WORKFLOW_STACK_TRACES=on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerTuning } from '../../worker.js';
import { workflowIdFor } from '../../workflows/messages.js';
import { submit, waitForState } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
const tuning: WorkerTuning = {
  maxCachedWorkflows: 20,
  maxConcurrentActivityTaskExecutions: 5,
  maxConcurrentWorkflowTaskExecutions: 4,
  workflowThreadPoolSize: 1,
  maxConcurrentWorkflowTaskPolls: 2,
  nonStickyToStickyPollRatio: 0.5,
  isolateExecutionTimeout: 0, // WORKER_ACTIVATION_TIMEOUT=off
  workflowStackTraces: false,
};

/** Runs `body` with the stack's worker started with this test's tuning; its workflow thread starts with it. */
async function withWorker(workflowStackTraces: boolean, body: () => Promise<void>): Promise<void> {
  await stack.startWorker({ tuning: { ...tuning, workflowStackTraces } });
  try {
    await body();
  } finally {
    await stack.stopWorker();
  }
}

beforeAll(async () => {
  stack = await startStack({ noWorker: true });
  await stack.operator('alice', ['approver']);
});
afterAll(async () => {
  await stack?.stop();
});

const stackTrace = (partnerId: string) => stack.client.workflow.getHandle(workflowIdFor(partnerId)).query<string>('__stack_trace');

describe('the workflow sandbox switches', () => {
  it('without the activation watchdog a lifecycle runs; with stack traces off the stack-trace query is refused', async () => {
    await withWorker(false, async () => {
      const { partnerId } = await submit(stack);
      await waitForState(stack, partnerId, 'pending_approval');
      await expect(stackTrace(partnerId)).rejects.toThrow(/stack traces are not enabled on this worker/);
    });
  });

  it('with WORKER_WORKFLOW_STACK_TRACES=on the query shows where the lifecycle waits', async () => {
    await withWorker(true, async () => {
      const { partnerId } = await submit(stack);
      await waitForState(stack, partnerId, 'pending_approval');
      // the approval phase waits for a decision or its deadline: the trace names our code
      expect(await stackTrace(partnerId)).toMatch(/workflows\/lifecycle\//);
    });
  });
});
