/**
 * A real partner-access stack for a test file: the shared dev server, a fresh SQLite file, a real
 * worker on a task queue of its own, and the real Hono app (called in-process with app.request).
 * With TEST_DATABASE=postgres, a fresh database on the run's Postgres server instead of the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { inject } from 'vitest';
import { createApp } from '../../api/app.js';
import type { AppDeps } from '../../api/deps.js';
import type { WebhookConfig } from '../../config/webhooks.js';
import { startLocalStack, type InProcessWorkerOptions } from '../../runtime/local-stack.js';
import { createLogger } from '../../runtime/services.js';
import { installTemporalRuntime } from '../../runtime/temporal-runtime.js';
import { findSecrets } from './secret-scan.js';
import { createTestDatabase, dropTestDatabase } from './postgres.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
export const fastPolicyFile = path.resolve(import.meta.dirname, '../fixtures/policy.fast.json');

export interface StackOptions {
  policyFile?: string;
  /** changes to both environments of the fast policy, written to a file of the test's own */
  policyOverrides?: Record<string, unknown>;
  webhook?: { url: string; secret: string };
  /** webhook endpoints and retry policy in full (instead of `webhook`) */
  webhooks?: WebhookConfig;
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
  const postgresUrl = process.env.TEST_DATABASE === 'postgres' ? await createTestDatabase(inject('postgresUrl'), 'pa_stack') : undefined;
  const local = await startLocalStack({
    database: postgresUrl ? { kind: 'postgres', url: postgresUrl } : undefined,
    name: 'pa-test-',
    policyFile: opts.policyFile ?? fastPolicyFile,
    policyOverrides: opts.policyOverrides,
    temporalAddress: opts.temporalAddress ?? inject('temporalAddress'),
    taskQueue: `pa-${process.pid}-${Date.now()}-${++sequence}`,
    logger,
    busyTimeoutMs: opts.busyTimeoutMs,
    // one key for the run: the global history scan decrypts with it
    payloadKeys: inject('payloadKeys'),
  });
  const { dir, db, dbFile, policyFile, policy, pickupKey, pickupKeyHex, address, taskQueue, client, auditCheckpoints } = local;
  const workflowBundle = { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
  const app = createApp(
    local.appDeps({
      updateDeadlineMs: 5000,
      probeSecret: opts.gatewayProbe?.secret,
      ...(opts.appOverrides ?? {}),
      // Suites call from one source (in-process requests have no address) and the role matrix offers
      // many wrong credentials: raised here; a test's own limits replace only the budgets it names.
      limits: { onboardingPerMinute: 10_000, decisionsPerMinute: 10_000, authFailuresPerMinute: 10_000, ...opts.appOverrides?.limits },
    }),
  );

  let workerCount = 0;
  /** the stack's worker, in this process; `tuning`: the WORKER_* knobs of a test about them */
  const startWorker = (extra: Pick<InProcessWorkerOptions, 'tuning'> = {}) =>
    local.startWorker({ workflowBundle, webhook: opts.webhook, webhooks: opts.webhooks, gatewayProbe: opts.gatewayProbe, identity: `test-worker-${++workerCount}`, ...extra });
  const stopWorker = local.stopWorker;
  if (!opts.noWorker) await startWorker();

  /**
   * The worker as a separate OS process (`npm run worker`'s entry point) on this stack's queue,
   * database and key: what crash tests kill -9.
   */
  function spawnWorkerProcess(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts', 'worker-main.ts')], {
      cwd: projectRoot,
      env: local.processEnv({ WORKFLOW_BUNDLE: inject('workflowBundlePath') }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => logLines.push(String(d)));
    child.stderr!.on('data', (d) => logLines.push(String(d)));
    return child;
  }

  const { operator, tokens } = local;

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
    auditCheckpoints,
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
    /** the SQLite file; with TEST_DATABASE=postgres nothing is there: use `databaseUrl` or `db` */
    dbFile,
    /** DATABASE_URL for a process of this stack (`npm run api` / `npm run worker`), on either dialect */
    databaseUrl: postgresUrl ?? `sqlite:${dbFile}`,
    pickupKeyHex,
    /** the payload codec's keys of this stack (the run's) */
    payloadKeys: local.payloadKeys,
    payloadKeyring: local.payloadKeyring,
    address,
    /** Stops everything; before the files go, their database and logs are scanned for secrets (NHI2). */
    async stop() {
      await stopWorker();
      const anonymous = await db
        .selectFrom('audit_events')
        .select(['seq', 'actor'])
        .where((eb) => eb.not(eb.or([eb('actor', 'like', 'operator:_%'), eb('actor', 'like', 'partner:_%'), eb('actor', 'like', 'system:_%')])))
        .execute();
      // Postgres keeps no file here: every table's rows are scanned instead
      const databaseText = postgresUrl ? await everyRowAsText(db) : '';
      await local.close();
      if (postgresUrl) await dropTestDatabase(postgresUrl);
      if (anonymous.length > 0) throw new Error(`audit events without a named actor: ${JSON.stringify(anonymous.slice(0, 3))}`);
      const leaks = [
        ...findSecrets(logLines.join('')).map((s) => `log: ${s.slice(0, 12)}…`),
        ...findSecrets(databaseText).map((s) => `postgres: ${s.slice(0, 12)}…`),
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

/** Every row of every table of the stack's Postgres database, as JSON text (what the file scan is for SQLite). */
async function everyRowAsText(db: Stack['db']): Promise<string> {
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await sql`select * from ${sql.table(name)}`.execute(db);
    parts.push(JSON.stringify(rows.rows));
  }
  return parts.join('\n');
}

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
