/**
 * One harness for every whole stack the project starts on this machine outside `npm start`: the
 * integration tests (test/helpers/stack.ts), the benchmark (bench/embedded-stack.ts) and the API
 * fuzzer (scripts/fuzz-api.ts). Each adds only what is its own (in-process requests and a secret
 * scan; a worker process with memory stats; two listening APIs); the parts — a temp dir, a policy
 * file, a data key, a migrated database, a Temporal connection (a shared server or one of its own),
 * the worker, the app's dependencies, operators — are started and stopped here, one way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { createApp } from '../api/app.js';
import type { AppDeps } from '../api/deps.js';
import { lifecyclePolicyFrom, loadPolicyFile } from '../config/policy.js';
import { generateDataKey, parseDataKey } from '../domain/sealed-box.js';
import type { DatabaseConfig } from '../config/env.js';
import { AuditCheckpoints } from '../schema/audit-checkpoints.js';
import { migrateToLatest, openDatabase, type Db } from '../schema/db.js';
import type { Role } from '../workflows/messages.js';
import { createWorker, projectRoot, type WorkerTuning } from '../worker.js';
import { startNoticeDeliverer } from '../activities/notifications.js';
import type { WebhookConfig } from '../config/webhooks.js';
import { defaultRetryPolicy } from '../domain/notice-delivery.js';
import { freePort, startDevServer, type DevServer } from './dev-server.js';
import { createOperator } from './operators.js';
import { resolveTemporalCli, temporalCliVersion } from './temporal-cli.js';
import { waitForTemporal } from './temporal.js';
import { generatePayloadKeys, payloadDataConverter, payloadKeyring } from './payload-codec.js';
import { requestIdClientInterceptor } from './request-context.js';

export interface LocalStackOptions {
  /** prefix of the temp dir: `pa-test-`, `pa-bench-`, … */
  name: string;
  /** the policy to start from (default config/policy.json) */
  policyFile?: string;
  /** changes to every environment of that policy, written to a file of the stack's own */
  policyOverrides?: Record<string, unknown>;
  /** a running Temporal server (the tests' shared one); otherwise a dev server of the stack's own, persisted in its dir */
  temporalAddress?: string;
  taskQueue?: string;
  logger: Logger;
  /** SQLite: how long a write waits for another connection's lock */
  busyTimeoutMs?: number;
  /** the database (default: a fresh SQLite file in the stack's dir, `dbFile`) */
  database?: DatabaseConfig;
  /** PAYLOAD_KEYS for the stack's clients and workers (default: a fresh key of its own) */
  payloadKeys?: string;
}

export interface InProcessWorkerOptions {
  /** a prebuilt workflow bundle (the tests bundle once per run) */
  workflowBundle?: { code: string };
  /** one endpoint receiving every notice (a test's receiver), with the default retry policy */
  webhook?: { url: string; secret: string };
  /** endpoints and retry policy in full (instead of `webhook`) */
  webhooks?: WebhookConfig;
  gatewayProbe?: { url: string; secret: string };
  identity?: string;
  /** the WORKER_* knobs (the SDK's defaults when absent) */
  tuning?: WorkerTuning;
}

/** One JSON request over HTTP, with a bearer token when given (the benchmark's and the fuzzer's seeding). */
export async function httpCall(base: string, method: string, url: string, token?: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined; // not JSON (a proxy's error page): the caller reports status and text
  }
  return { status: res.status, json, text };
}

/**
 * Submits over HTTP, approves as `approver` (retrying while the workflow is still starting) and
 * picks the key up: one active sandbox partner with its key, for the benchmark's and the
 * fuzzer's seeding. The worker must be running.
 */
export async function activePartnerOverHttp(base: string, approver: string, submission: Record<string, unknown> = {}): Promise<{ partnerId: string; requestToken: string; apiKey: string }> {
  const submitted = await httpCall(base, 'POST', '/v1/partners', undefined, {
    name: 'Bench Partner', contactEmail: 'dev@bench.example', sponsor: 'alice', environment: 'sandbox', scopes: ['orders:read'], justification: 'seeded for a measurement',
    ...submission,
  });
  if (submitted.status !== 202) throw new Error(`submission failed: ${submitted.status} ${submitted.text}`);
  const { partnerId, requestToken } = submitted.json as { partnerId: string; requestToken: string };
  const retry = async (what: string, call: () => Promise<{ status: number; json: any; text: string }>) => {
    for (let i = 0; ; i++) {
      const res = await call();
      if (res.status === 200) return res.json;
      if (i > 50) throw new Error(`${what} failed: ${res.status} ${res.text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await retry('approval', () => httpCall(base, 'POST', `/v1/partners/${partnerId}/decisions`, approver, { decision: 'approve', reason: 'seeded' }));
  const { apiKey } = await retry('pickup', () => httpCall(base, 'POST', `/v1/partners/${partnerId}/credentials/pickup`, requestToken));
  return { partnerId, requestToken, apiKey: apiKey as string };
}

export async function startLocalStack(opts: LocalStackOptions) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.name));
  // Everything started is stopped in reverse order, also when a later start fails.
  const closers: Array<() => Promise<unknown>> = [];
  let stopWorker = async (): Promise<void> => undefined;
  const close = async () => {
    await stopWorker().catch(() => undefined); // first: it still writes to the database
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => undefined);
  };
  try {
    let policyFile = opts.policyFile ?? path.join(projectRoot, 'config', 'policy.json');
    if (opts.policyOverrides) {
      const raw = JSON.parse(fs.readFileSync(policyFile, 'utf8'));
      for (const env of Object.keys(raw.environments)) Object.assign(raw.environments[env], opts.policyOverrides);
      policyFile = path.join(dir, 'policy.json');
      fs.writeFileSync(policyFile, JSON.stringify(raw));
    }
    const policy = loadPolicyFile(policyFile);
    const pickupKeyHex = generateDataKey();
    const pickupKey = parseDataKey(pickupKeyHex);
    // every client and worker of the stack encrypts its Temporal payloads, like a deployment's
    const payloadKeys = opts.payloadKeys ?? generatePayloadKeys();
    const keyring = payloadKeyring(payloadKeys);

    let devServer: DevServer | undefined;
    let temporalVersion: string | undefined;
    let address = opts.temporalAddress;
    if (address === undefined) {
      const cli = resolveTemporalCli({ explicitPath: process.env.TEMPORAL_CLI_PATH, autoInstall: true });
      const server = startDevServer({ cli, dbFile: path.join(dir, 'temporal.db'), port: await freePort(), uiPort: await freePort(), namespace: 'default' });
      devServer = server;
      closers.push(() => server.stop());
      temporalVersion = temporalCliVersion(cli);
      address = server.address;
      await waitForTemporal({ address, namespace: 'default', options: {} }, 60_000);
    }

    const dbFile = path.join(dir, 'app.db');
    const database: DatabaseConfig = opts.database ?? { kind: 'sqlite', file: dbFile };
    const db: Db = openDatabase(database, { busyTimeoutMs: opts.busyTimeoutMs });
    closers.push(() => db.destroy());
    await migrateToLatest(db);

    const taskQueue = opts.taskQueue ?? path.basename(dir);
    const connection = await Connection.connect({ address });
    closers.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default', dataConverter: payloadDataConverter(keyring), interceptors: { workflow: [requestIdClientInterceptor] } });
    let nativeConnection: NativeConnection | undefined;

    let worker: Worker | undefined;
    let running: Promise<void> | undefined;
    /** The real worker in this process, on this stack's queue, database and key. */
    let stopDeliverer = async (): Promise<void> => undefined;
    async function startWorker({ webhook, webhooks: configured, ...w }: InProcessWorkerOptions = {}): Promise<void> {
      if (worker) return;
      const webhooks: WebhookConfig = configured ?? { endpoints: webhook ? [{ name: 'default', ...webhook, events: ['*'] }] : [], retry: defaultRetryPolicy };
      if (!nativeConnection) {
        const native = await NativeConnection.connect({ address });
        nativeConnection = native;
        closers.push(() => native.close());
      }
      worker = await createWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        db,
        pickupKey,
        payloadKeyring: keyring,
        lifecyclePolicy: lifecyclePolicyFrom(policyFile),
        webhooks,
        ...w,
      });
      running = worker.run();
      stopDeliverer = startNoticeDeliverer({ db, webhooks, logger: opts.logger, metricMeter: Runtime.instance().metricMeter.withTags({ taskQueue }) }, 250);
    }
    stopWorker = async () => {
      if (!worker) return;
      await stopDeliverer();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      worker = undefined;
    };

    const auditCheckpoints = new AuditCheckpoints(path.join(dir, 'audit-checkpoints.ndjson'), parseDataKey(generateDataKey()));

    /** What `createApp` needs, pointed at this stack; the caller adds its limits and overrides. */
    const appDeps = (overrides: Partial<AppDeps> = {}): AppDeps => ({
      db,
      auditCheckpoints,
      temporal: { client, taskQueue },
      policy: () => policy,
      pickupKey,
      logger: opts.logger,
      gatewayRoutesFile: path.join(projectRoot, 'gateway', 'routes.json'),
      ...overrides,
    });

    /** The variables `npm run worker` / `npm run api` read, for a process of this stack. */
    const processEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
      ...process.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: database.kind === 'postgres' ? database.url : `sqlite:${dbFile}`,
      POLICY_FILE: policyFile,
      PICKUP_KEY: pickupKeyHex,
      PAYLOAD_KEYS: payloadKeys,
      DATA_DIR: dir,
      LOG_LEVEL: 'warn',
      ...extra,
    });

    /** Serves an app on a free loopback port until the stack stops. */
    async function listen(app: ReturnType<typeof createApp>): Promise<string> {
      const port = await freePort();
      const server: ServerType = await new Promise((resolve, reject) => {
        const s = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve(s));
        s.once('error', reject);
      });
      closers.push(async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // keep-alive connections (a gateway's upstream pool) would hold close() open
        (server as import('node:http').Server).closeAllConnections();
        await closed;
      });
      return `http://127.0.0.1:${port}`;
    }

    const tokens = new Map<string, string>();
    async function operator(name: string, roles: Role[]): Promise<string> {
      const token = await createOperator(db, name, roles);
      tokens.set(name, token);
      return token;
    }

    return {
      dir,
      db,
      dbFile,
      policyFile,
      policy,
      pickupKey,
      pickupKeyHex,
      /** PAYLOAD_KEYS of this stack, and the keyring its client and workers use */
      payloadKeys,
      payloadKeyring: keyring,
      auditCheckpoints,
      address,
      taskQueue,
      connection,
      client,
      devServer,
      /** the dev server's version, when the stack runs its own */
      temporalVersion,
      appDeps,
      processEnv,
      listen,
      startWorker,
      stopWorker,
      operator,
      tokens,
      /** Stops everything and keeps the dir (for a look at what is left in it). */
      close,
      /** Stops everything and removes the dir. */
      async stop() {
        await close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export type LocalStack = Awaited<ReturnType<typeof startLocalStack>>;
