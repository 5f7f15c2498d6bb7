/**
 * A real partner-access stack for a test file: the shared dev server, a fresh SQLite file, a real
 * worker on a task queue of its own, and the real Hono app (called in-process with app.request).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createApp } from '../../api/app.js';
import type { AppDeps } from '../../api/deps.js';
import { loadPolicyFile } from '../../config/policy.js';
import { generateDataKey, parseDataKey } from '../../domain/sealed-box.js';
import { createOperator } from '../../runtime/operators.js';
import { findSecrets } from './secret-scan.js';
import { lifecyclePolicyFrom } from '../../config/policy.js';
import { createLogger } from '../../runtime/services.js';
import { installTemporalRuntime } from '../../runtime/temporal-runtime.js';
import { migrateToLatest, openDatabase, type Db } from '../../schema/db.js';
import type { Role } from '../../workflows/messages.js';
import { createWorker } from '../../worker.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
export const fastPolicyFile = path.resolve(import.meta.dirname, '../fixtures/policy.fast.json');

export interface StackOptions {
  policyFile?: string;
  /** changes to both environments of the fast policy, written to a file of the test's own */
  policyOverrides?: Record<string, unknown>;
  webhook?: { url: string; secret: string };
  /** revocations verified through a gateway (the API side gets the same secret) */
  gatewayProbe?: { url: string; secret: string };
  /** a Temporal server of the test's own (default: the run's shared dev server) */
  temporalAddress?: string;
  /** extra createApp dependencies (limits, body size) */
  appOverrides?: Partial<AppDeps>;
  /** start without a worker (tests of what works with workers down) */
  noWorker?: boolean;
  /** how long a write waits for another connection's lock (default: the product's 10 s) */
  busyTimeoutMs?: number;
}

let sequence = 0;

export async function startStack(opts: StackOptions = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-test-'));
  let policyFile = opts.policyFile ?? fastPolicyFile;
  if (opts.policyOverrides) {
    const raw = JSON.parse(fs.readFileSync(policyFile, 'utf8'));
    for (const env of Object.keys(raw.environments)) Object.assign(raw.environments[env], opts.policyOverrides);
    policyFile = path.join(dir, 'policy.json');
    fs.writeFileSync(policyFile, JSON.stringify(raw));
  }
  const pickupKeyHex = generateDataKey();
  const pickupKey = parseDataKey(pickupKeyHex);
  const dbFile = path.join(dir, 'app.db');
  const db: Db = openDatabase({ kind: 'sqlite', file: dbFile }, { busyTimeoutMs: opts.busyTimeoutMs });
  await migrateToLatest(db);
  const logLines: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  );
  installTemporalRuntime(logger);
  const address = opts.temporalAddress ?? inject('temporalAddress');
  const workflowBundle = { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
  const taskQueue = `pa-${process.pid}-${Date.now()}-${++sequence}`;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const nativeConnection = await NativeConnection.connect({ address });
  const policy = loadPolicyFile(policyFile);
  const app = createApp({
    db,
    temporal: { client, taskQueue },
    policy: () => policy,
    pickupKey,
    logger,
    updateDeadlineMs: 5000,
    gatewayRoutesFile: path.join(projectRoot, 'gateway', 'routes.json'),
    probeSecret: opts.gatewayProbe?.secret,
    ...(opts.appOverrides ?? {}),
    // Suites call from one source (in-process requests have no address) and the role matrix offers
    // many wrong credentials: raised here; a test's own limits replace only the budgets it names.
    limits: { onboardingPerMinute: 10_000, decisionsPerMinute: 10_000, authFailuresPerMinute: 10_000, ...opts.appOverrides?.limits },
  });

  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let workerCount = 0;
  async function startWorker() {
    if (worker) return;
    worker = await createWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle,
      db,
      pickupKey,
      webhook: opts.webhook,
      lifecyclePolicy: lifecyclePolicyFrom(policyFile),
      gatewayProbe: opts.gatewayProbe,
      identity: `test-worker-${++workerCount}`,
    });
    running = worker.run();
  }
  async function stopWorker() {
    if (!worker) return;
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    worker = undefined;
  }
  if (!opts.noWorker) await startWorker();

  /**
   * The worker as a separate OS process (`npm run worker`'s entry point) on this stack's queue,
   * database and key: what crash tests kill -9.
   */
  function spawnWorkerProcess(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts', 'worker-main.ts')], {
      cwd: projectRoot,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        DATABASE_URL: `sqlite:${dbFile}`,
        POLICY_FILE: policyFile,
        PICKUP_KEY: pickupKeyHex,
        DATA_DIR: dir,
        WORKFLOW_BUNDLE: inject('workflowBundlePath'),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => logLines.push(String(d)));
    child.stderr!.on('data', (d) => logLines.push(String(d)));
    return child;
  }

  const tokens = new Map<string, string>();
  async function operator(name: string, roles: Role[]): Promise<string> {
    const token = await createOperator(db, name, roles);
    tokens.set(name, token);
    return token;
  }

  /** JSON request against the real app; `token` goes in the Authorization header. */
  async function call(method: string, url: string, init: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await app.request(url, {
      method,
      headers,
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    });
    const text = await response.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json, text };
  }

  return {
    dir,
    db,
    policyFile,
    app,
    client,
    taskQueue,
    policy,
    pickupKey,
    logLines,
    logger,
    operator,
    tokens,
    call,
    startWorker,
    stopWorker,
    spawnWorkerProcess,
    dbFile,
    pickupKeyHex,
    address,
    /** Stops everything; before the files go, their database and logs are scanned for secrets (NHI2). */
    async stop() {
      await stopWorker();
      await nativeConnection.close();
      await connection.close();
      const anonymous = await db
        .selectFrom('audit_events')
        .select(['seq', 'actor'])
        .where((eb) => eb.not(eb.or([eb('actor', 'like', 'operator:_%'), eb('actor', 'like', 'partner:_%'), eb('actor', 'like', 'system:_%')])))
        .execute();
      await db.destroy();
      if (anonymous.length > 0) throw new Error(`audit events without a named actor: ${JSON.stringify(anonymous.slice(0, 3))}`);
      const leaks = [
        ...findSecrets(logLines.join('')).map((s) => `log: ${s.slice(0, 12)}…`),
        ...['app.db', 'app.db-wal']
          .map((f) => path.join(dir, f))
          .filter((f) => fs.existsSync(f))
          .flatMap((f) => findSecrets(fs.readFileSync(f).toString('latin1')).map((s) => `${path.basename(f)}: ${s.slice(0, 12)}…`)),
      ];
      fs.rmSync(dir, { recursive: true, force: true });
      if (leaks.length > 0) throw new Error(`plaintext secrets found: ${leaks.join(', ')}`);
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** Polls `fn` until it returns a truthy value (the read model is written by activities). */
export async function eventually<T>(fn: () => Promise<T | undefined | false | null>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}
