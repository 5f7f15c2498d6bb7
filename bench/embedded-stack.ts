import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createApp } from '../api/app.js';
import { unlimitedRateLimits } from '../config/limits.js';
import { httpCall, startLocalStack } from '../runtime/local-stack.js';
import { createLogger } from '../runtime/services.js';
import { bundleWorkflows } from '../worker.js';

const root = path.resolve(import.meta.dirname, '..');

/**
 * A whole stack on one machine for the benchmark (runtime/local-stack.ts): a Temporal dev server
 * persisted to SQLite, our SQLite, the worker as its own process (so its memory is its own) and
 * the API on a loopback port, rate limits out of the way.
 */
export async function startEmbeddedStack(policyOverrides: Record<string, unknown>) {
  const local = await startLocalStack({ name: 'pa-bench-', policyOverrides, taskQueue: 'bench', logger: createLogger('warn') });
  const { dir, db, dbFile, client } = local;
  const api = await local.listen(createApp(local.appDeps({ limits: unlimitedRateLimits, updateDeadlineMs: 60_000 })));

  const bundleFile = path.join(dir, 'workflows.js');
  fs.writeFileSync(bundleFile, (await bundleWorkflows()).code);

  let worker: ChildProcess | undefined;
  async function startWorker() {
    worker = fork(path.join(root, 'bench', 'worker-process.ts'), [], {
      cwd: root,
      // BENCH_WORKER_CPU_PROF=<dir>: each worker process writes a V8 CPU profile there when it stops
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_WORKER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_WORKER_CPU_PROF)}`] : [])],
      env: local.processEnv({ WORKFLOW_BUNDLE: bundleFile }),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      worker!.once('message', () => resolve());
      worker!.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
    });
  }
  async function stopWorker() {
    if (!worker || worker.exitCode !== null) return;
    const exited = new Promise((r) => worker!.once('exit', r));
    worker.kill('SIGTERM');
    await exited;
  }
  async function workerStats(): Promise<{ rss: number; heapUsed: number; heapTotal: number; commits?: { groups: number; members: number } }> {
    const w = worker!;
    return new Promise((resolve) => {
      w.once('message', (m: any) => resolve({ ...m.memory, commits: m.commits }));
      w.send('stats');
    });
  }
  await startWorker();

  const tokens = {
    alice: await local.operator('alice', ['approver']),
    sec: await local.operator('sec', ['security']),
    gw: await local.operator('gw', ['gateway']),
  };

  const call = (method: string, url: string, token?: string, body?: unknown) => httpCall(api, method, url, token, body);

  return {
    dir,
    db,
    dbFile,
    api,
    client,
    tokens,
    call,
    startWorker,
    stopWorker,
    workerStats,
    /** the stack's processes, for CPU accounting: the API runs in this one */
    pids: () => ({ temporalServer: local.devServer!.process.pid, worker: worker?.pid, apiAndBenchDriver: process.pid }),
    temporalVersion: local.temporalVersion!,
    temporalDbFile: path.join(dir, 'temporal.db'),
    async stop() {
      await stopWorker().catch(() => undefined);
      await local.stop();
    },
  };
}

export type EmbeddedStack = Awaited<ReturnType<typeof startEmbeddedStack>>;
