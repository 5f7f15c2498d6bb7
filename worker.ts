import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities/index.js';
import { payloadDataConverter, type PayloadKeyring } from './runtime/payload-codec.js';
import { unauthenticatedMarker } from './workflows/command-authentication.js';
import { requestIdActivityInterceptor } from './runtime/request-context.js';
import { tracingActivityInterceptors, tracingSinks, tracingWorkflowModule, type Tracing } from './runtime/tracing.js';
import { isPatched } from './scripts/patch-temporal-sdk.mjs';

export const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

/**
 * The workflow interceptors bundled with the lifecycle: the refusal of commands whose payload is
 * not authenticated (workflows/command-authentication.ts) comes first; then the request id in the
 * workflow's and its activities' logs (workflows/request-context.ts).
 */
export const workflowInterceptorModules = [
  fileURLToPath(new URL('./workflows/command-authentication.ts', import.meta.url)),
  fileURLToPath(new URL('./workflows/request-context.ts', import.meta.url)),
];

/**
 * The workflow bundle every worker runs (tests and the benchmark bundle once, ahead of time). With
 * `tracing`, the Temporal OpenTelemetry workflow interceptors are bundled too: only then, so a
 * deployment without tracing makes no span in its workflows.
 */
export async function bundleWorkflows(opts: { tracing?: boolean } = {}): Promise<{ code: string }> {
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };
  const modules = [...workflowInterceptorModules, ...(opts.tracing ? [tracingWorkflowModule] : [])];
  const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: modules, logger: quiet as never });
  return { code };
}

export class WorkflowBundleWithoutInterceptors extends Error {}

export interface WorkerDeps extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** a prebuilt bundle (tests bundle once); otherwise the workflows are bundled at start */
  workflowBundle?: { code: string };
  identity?: string;
  /** the payload codec's keys: the same on every client and worker of the deployment */
  payloadKeyring: PayloadKeyring;
  /** OpenTelemetry (OTEL_EXPORTER_OTLP_ENDPOINT): activity spans, and workflow spans when the bundle has their interceptors */
  tracing?: Tracing;
  /** how much the worker holds and runs at once (WORKER_MAX_* variables); the SDK's defaults when absent */
  tuning?: WorkerTuning;
}

/**
 * The knobs that bound a worker's memory and concurrency. A cached workflow keeps its state and
 * V8 context in memory between tasks; past the cache, the least recently used is evicted and
 * replayed from its history at its next task (CPU for memory), so memory stays bounded at any
 * number of partners.
 */
export interface WorkerTuning {
  maxCachedWorkflows: number;
  maxConcurrentActivityTaskExecutions: number;
  maxConcurrentWorkflowTaskExecutions: number;
  /** threads running workflow code (each with one reused V8 context); a workflow stays on its thread while cached */
  workflowThreadPoolSize: number;
  /** workflow-task polls open at once, over the worker's sticky queue and the task queue itself */
  maxConcurrentWorkflowTaskPolls: number;
  /**
   * the share of those polls that ask the task queue itself: a new partner's first task, and every
   * task of a run no longer in the cache (timers firing for thousands of partners), come only from there
   */
  nonStickyToStickyPollRatio: number;
  /** ms one activation of workflow code may run (the SDK's deadlock guard); 0: no watchdog (WORKER_ACTIVATION_TIMEOUT=off) */
  isolateExecutionTimeout: number;
  /** the promise stack traces behind the Temporal UI's "Stack Trace" tab (WORKER_WORKFLOW_STACK_TRACES) */
  workflowStackTraces: boolean;
}

export class SandboxNotPatched extends Error {}

/** The partner-access worker: the lifecycle workflow and its activities on one task queue. */
export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  // a prebuilt bundle's interceptors cannot be added here: one without them would believe forged commands
  if (deps.workflowBundle && !deps.workflowBundle.code.includes(unauthenticatedMarker)) {
    throw new WorkflowBundleWithoutInterceptors('the workflow bundle lacks the command-authentication interceptors: build it with bundleWorkflows() (worker.ts)');
  }
  const { workflowStackTraces, ...sdkTuning }: Partial<WorkerTuning> = deps.tuning ?? {};
  // Without the patch, Node refuses a timeout of 0 on every activation: refuse to start instead.
  if (sdkTuning.isolateExecutionTimeout === 0 && !isPatched()) {
    throw new SandboxNotPatched('WORKER_ACTIVATION_TIMEOUT=off needs the patched Temporal SDK: run `node scripts/patch-temporal-sdk.mjs` (npm ci runs it)');
  }
  // The patched SDK has no option for it: its workflow threads read the variable as Worker.create starts them.
  if (workflowStackTraces !== undefined) process.env.WORKER_WORKFLOW_STACK_TRACES = workflowStackTraces ? 'on' : 'off';
  const options: WorkerOptions = {
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    activities: createActivities(deps),
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath }),
    interceptors: {
      // ignored with a prebuilt bundle, which holds them already (bundleWorkflows)
      workflowModules: [...workflowInterceptorModules, ...(deps.tracing ? [tracingWorkflowModule] : [])],
      activity: [requestIdActivityInterceptor, ...tracingActivityInterceptors(deps.tracing)],
    },
    sinks: tracingSinks(deps.tracing),
    dataConverter: payloadDataConverter(deps.payloadKeyring),
    ...(deps.identity ? { identity: deps.identity } : {}),
    shutdownGraceTime: '10 seconds',
    ...sdkTuning,
  };
  return Worker.create(options);
}

export const projectRoot = path.dirname(fileURLToPath(import.meta.url));
