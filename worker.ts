import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities/index.js';

export const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

export interface WorkerDeps extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** a prebuilt bundle (tests bundle once); otherwise the workflows are bundled at start */
  workflowBundle?: { code: string };
  identity?: string;
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
}

/** The partner-access worker: the lifecycle workflow and its activities on one task queue. */
export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  const options: WorkerOptions = {
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    activities: createActivities(deps),
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath }),
    ...(deps.identity ? { identity: deps.identity } : {}),
    shutdownGraceTime: '10 seconds',
    ...(deps.tuning ?? {}),
  };
  return Worker.create(options);
}

export const projectRoot = path.dirname(fileURLToPath(import.meta.url));
