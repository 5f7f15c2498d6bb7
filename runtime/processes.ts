/**
 * The two kinds of process partner-access runs (`npm run worker`, `npm run api`; `npm start` runs
 * both in one): each wired from the configuration and stoppable with draining.
 */
import fs from 'node:fs';
import { serve, type ServerType } from '@hono/node-server';
import { Runtime, type Worker } from '@temporalio/worker';
import { startNoticeDeliverer } from '../activities/notifications.js';
import type { Logger } from 'pino';
import { createApp } from '../api/app.js';
import { ApiMetrics, serveMetrics } from '../api/metrics.js';
import { redeliverPendingSignals } from '../api/commands.js';
import { UsageRecorder } from '../api/usage.js';
import { resumeUnstartedSubmissions } from '../api/submissions.js';
import { pruneExpiredIdempotencyKeys } from '../schema/repositories/idempotency.js';
import { pruneRateLimitWindows } from '../schema/repositories/rate-limits.js';
import { applyRetention } from '../schema/repositories/retention.js';
import { recordPolicyInForce } from '../schema/repositories/policy-events.js';
import { DatabaseRateLimiter } from '../api/rate-limit.js';
import type { AppConfig } from '../config/env.js';
import { followPolicyFile } from '../config/policy.js';
import type { Db } from '../schema/db.js';
import { createWorker } from '../worker.js';
import { lifecyclePolicyFrom } from '../config/policy.js';
import { loadAuditCheckpoints, loadPayloadKeyring, loadPickupKey } from './services.js';
import { connectClient, connectWorkerConnection, type TemporalTarget } from './temporal.js';
import { installTemporalRuntime } from './temporal-runtime.js';
import { startTracing, tracedFetch } from './tracing.js';

export interface Running {
  stop(): Promise<void>;
}

/** The worker process: connects, registers the lifecycle, runs until stopped (drains on stop). */
export async function runWorkerProcess(config: AppConfig, target: TemporalTarget, db: Db, logger: Logger): Promise<Running> {
  installTemporalRuntime(logger, 'WARN', config.worker.metricsAddress);
  const tracing = startTracing(config.tracing.endpoint, config.tracing.serviceName);
  if (tracing && config.temporal.workflowBundle) logger.warn('a prebuilt WORKFLOW_BUNDLE has no tracing interceptors unless built with bundleWorkflows({ tracing: true }): workflow spans may be missing');
  if (config.worker.metricsAddress) logger.info({ url: `http://${config.worker.metricsAddress}/metrics` }, 'worker metrics (Temporal SDK) listening');
  const connection = await connectWorkerConnection(target);
  const worker: Worker = await createWorker({
    connection,
    namespace: target.namespace,
    taskQueue: config.temporal.taskQueue,
    db,
    pickupKey: loadPickupKey(config),
    payloadKeyring: loadPayloadKeyring(config),
    tracing,
    webhooks: config.webhooks,
    lifecyclePolicy: lifecyclePolicyFrom(config.policyFile),
    gatewayProbe: config.gatewayProbe,
    workflowBundle: config.temporal.workflowBundle ? { code: fs.readFileSync(config.temporal.workflowBundle, 'utf8') } : undefined,
    tuning: config.worker.tuning,
  });
  const running = worker.run();
  running.catch((err) => logger.error({ err }, 'worker stopped with an error'));
  // retries of notices whose first attempt failed (activities/notifications.ts); every worker runs one, leases keep them apart
  const stopDeliverer = startNoticeDeliverer({ db, webhooks: config.webhooks, logger, metricMeter: Runtime.instance().metricMeter.withTags({ taskQueue: config.temporal.taskQueue }) });
  logger.info({ taskQueue: config.temporal.taskQueue }, 'worker started');
  return {
    async stop() {
      await stopDeliverer();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await tracing?.spanProcessor.forceFlush();
      await connection.close();
    },
  };
}

/** Pruning is a large delete now and then, not a small one every few seconds. */
const RETENTION_EVERY_MS = 10 * 60_000;

/** The API process: the Hono app on HOST:PORT. */
export async function runApiProcess(config: AppConfig, target: TemporalTarget, db: Db, logger: Logger): Promise<Running & { url: string }> {
  const auditPolicy = (version: string) =>
    recordPolicyInForce(db, version, new Date().toISOString(), config.policyFile).catch((err) => logger.error({ err: (err as Error).message }, 'recording the policy version in the audit trail failed'));
  const policy = followPolicyFile(config.policyFile, {
    onChange: (next, previous) => {
      logger.warn({ version: next.version, previous: previous.version }, 'policy file changed: this process now acts on the new version');
      void auditPolicy(next.version);
    },
    onError: (err) => logger.error({ err: err.message }, 'policy file changed but is invalid: the last valid version stays in force'),
  });
  await auditPolicy(policy.current().version);
  const tracing = startTracing(config.tracing.endpoint, config.tracing.serviceName);
  const { connection, client } = await connectClient(target, loadPayloadKeyring(config), tracing);
  const usage = new UsageRecorder(db);
  const checkpoints = loadAuditCheckpoints(config);
  const metrics = config.metrics ? new ApiMetrics({ processMetrics: true }) : undefined;
  const app = createApp({
    metrics,
    usage,
    db,
    temporal: { client, taskQueue: config.temporal.taskQueue },
    policy: policy.current,
    pickupKey: loadPickupKey(config),
    logger,
    corsOrigins: config.corsOrigins,
    gatewayRoutesFile: config.gatewayRoutesFile,
    probeSecret: config.probeSecret,
    updateDeadlineMs: config.updateDeadlineMs,
    limits: config.limits,
    noticeRetry: config.webhooks.retry,
    rateLimiter: config.rateLimitStore === 'database' ? new DatabaseRateLimiter(db) : undefined,
    trustedProxies: config.trustedProxies,
    auditCheckpoints: checkpoints,
  });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: tracing ? tracedFetch(app.fetch) : app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
    s.once('error', reject);
  });
  const url = `http://${config.host}:${config.port}`;
  logger.info({ url }, 'API listening');
  // Prometheus scrapes a listener of its own, without a token: bound to METRICS_HOST (127.0.0.1 by default)
  const metricsServer = config.metrics && metrics ? await serveMetrics(metrics, config.metrics.host, config.metrics.port, logger) : undefined;
  if (metricsServer) logger.info({ url: metricsServer.url }, 'metrics listening');
  // Revocation signals that found Temporal unreachable are re-sent until it answers.
  // Submissions whose workflow start failed or was cut short by a crash are started.
  // Idempotency keys past their 24 h, and shared rate-limit windows that weigh nothing, are deleted.
  // The audit chain's head is checkpointed, signed, outside the database.
  // one write at a time: a slow database must not make two checkpoints of one head
  let checkpointing: Promise<unknown> = Promise.resolve();
  const checkpoint = () =>
    (checkpointing = checkpointing.then(() => checkpoints.write(db)).catch((err) => logger.error({ err: (err as Error).message }, 'writing the audit checkpoint failed')));
  const redelivery = setInterval(() => {
    void checkpoint();
    redeliverPendingSignals({ db, temporal: { client, taskQueue: config.temporal.taskQueue }, logger }).catch((err) =>
      logger.warn({ err: (err as Error).message }, 'signal redelivery failed'),
    );
    resumeUnstartedSubmissions({ db, client, taskQueue: config.temporal.taskQueue, logger }).catch((err) =>
      logger.warn({ err: (err as Error).message }, 'resuming submissions failed'),
    );
    pruneExpiredIdempotencyKeys(db).catch((err) => logger.warn({ err: (err as Error).message }, 'pruning idempotency keys failed'));
    if (config.rateLimitStore === 'database') {
      pruneRateLimitWindows(db, Date.now()).catch((err) => logger.warn({ err: (err as Error).message }, 'pruning rate-limit windows failed'));
    }
  }, 5000);
  // Retention (the policy's `retention`): every API may run it; a delete of what another already deleted deletes nothing.
  const retention = setInterval(() => {
    applyRetention(db, policy.current())
      .then((pruned) => pruned.notifications + pruned.usageCounters > 0 && logger.info(pruned, 'retention: pruned'))
      .catch((err) => logger.warn({ err: (err as Error).message }, 'retention pruning failed'));
  }, RETENTION_EVERY_MS);
  retention.unref();
  return {
    url,
    async stop() {
      clearInterval(redelivery);
      clearInterval(retention);
      policy.stop();
      // Draining: requests in flight finish; what is still open after a few seconds is a gateway's
      // long poll of the change feed (up to 25 s), which resumes from its cursor elsewhere.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const drain = setTimeout(() => (server as import('node:http').Server).closeAllConnections(), 3000);
      await closed;
      clearTimeout(drain);
      // after the drain: the last requests' usage and audit events are in what is flushed and signed
      await usage.close();
      await checkpoint();
      await metricsServer?.close();
      await tracing?.spanProcessor.forceFlush();
      await connection.close();
    },
  };
}
