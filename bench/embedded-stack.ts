import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createApp } from '../api/app.js';
import { loadPolicyFile } from '../config/policy.js';
import { generateDataKey, parseDataKey } from '../domain/sealed-box.js';
import { freePort, startDevServer } from '../runtime/dev-server.js';
import { createOperator } from '../runtime/operators.js';
import { createLogger } from '../runtime/services.js';
import { resolveTemporalCli, temporalCliVersion } from '../runtime/temporal-cli.js';
import { waitForTemporal } from '../runtime/temporal.js';
import { migrateToLatest, openDatabase } from '../schema/db.js';
import { workflowsPath } from '../worker.js';
import { unlimitedRateLimits } from '../config/limits.js';

const root = path.resolve(import.meta.dirname, '..');

/**
 * A whole stack on one machine for benchmarks and fuzzing (`bench/`, `scripts/fuzz-api.ts`): a Temporal dev server persisted to SQLite, our SQLite,
 * the worker as its own process and the API on a loopback port, all on free ports in a temp dir.
 */
export async function startEmbeddedStack(policyOverrides: Record<string, unknown>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-bench-'));
  const raw = JSON.parse(fs.readFileSync(path.join(root, 'config', 'policy.json'), 'utf8'));
  for (const env of Object.keys(raw.environments)) Object.assign(raw.environments[env], policyOverrides);
  const policyFile = path.join(dir, 'policy.json');
  fs.writeFileSync(policyFile, JSON.stringify(raw));

  const cli = resolveTemporalCli({ autoInstall: true });
  const devServer = startDevServer({ cli, dbFile: path.join(dir, 'temporal.db'), port: await freePort(), uiPort: await freePort(), namespace: 'default' });
  const target = { address: devServer.address, namespace: 'default', options: {} };
  await waitForTemporal(target, 30_000);

  const dbFile = path.join(dir, 'app.db');
  const db = openDatabase({ kind: 'sqlite', file: dbFile });
  await migrateToLatest(db);
  const pickupKeyHex = generateDataKey();
  const taskQueue = 'bench';
  const connection = await Connection.connect({ address: devServer.address });
  const client = new Client({ connection, namespace: 'default' });
  const policy = loadPolicyFile(policyFile);
  const logger = createLogger('warn');
  const app = createApp({
    db,
    temporal: { client, taskQueue },
    policy: () => policy,
    pickupKey: parseDataKey(pickupKeyHex),
    logger,
    limits: unlimitedRateLimits,
    updateDeadlineMs: 60_000,
  });
  const apiPort = await freePort();
  const server: ServerType = serve({ fetch: app.fetch, port: apiPort, hostname: '127.0.0.1' });
  const api = `http://127.0.0.1:${apiPort}`;

  const bundleFile = path.join(dir, 'workflows.js');
  fs.writeFileSync(bundleFile, (await bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never })).code);

  let worker: ChildProcess | undefined;
  async function startWorker() {
    worker = fork(path.join(root, 'bench', 'worker-process.ts'), [], {
      cwd: root,
      // BENCH_WORKER_CPU_PROF=<dir>: each worker process writes a V8 CPU profile there when it stops
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_WORKER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_WORKER_CPU_PROF)}`] : [])],
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: devServer.address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        DATABASE_URL: `sqlite:${dbFile}`,
        POLICY_FILE: policyFile,
        PICKUP_KEY: pickupKeyHex,
        DATA_DIR: dir,
        WORKFLOW_BUNDLE: bundleFile,
        LOG_LEVEL: 'warn',
      },
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
  async function workerStats(): Promise<{ rss: number; heapUsed: number; heapTotal: number }> {
    const w = worker!;
    return new Promise((resolve) => {
      w.once('message', (m: any) => resolve(m.memory));
      w.send('stats');
    });
  }
  await startWorker();

  const tokens = {
    alice: await createOperator(db, 'alice', ['approver']),
    sec: await createOperator(db, 'sec', ['security']),
    gw: await createOperator(db, 'gw', ['gateway']),
  };

  async function call(method: string, url: string, token?: string, body?: unknown) {
    const res = await fetch(`${api}${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

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
    pids: () => ({ temporalServer: devServer.process.pid, worker: worker?.pid, apiAndBenchDriver: process.pid }),
    temporalVersion: temporalCliVersion(cli),
    temporalDbFile: path.join(dir, 'temporal.db'),
    async stop() {
      await stopWorker().catch(() => undefined);
      const closed = new Promise<void>((r) => server.close(() => r()));
      // keep-alive connections (a gateway's upstream pool) would hold close() open
      (server as import('node:http').Server).closeAllConnections();
      await closed;
      await connection.close();
      await db.destroy();
      await devServer.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type EmbeddedStack = Awaited<ReturnType<typeof startEmbeddedStack>>;
