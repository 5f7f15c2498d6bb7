import type { BlockList } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { RateLimits } from '../config/limits.js';
import type { Policy } from '../config/policy.js';
import type { AuditCheckpoints } from '../schema/audit-checkpoints.js';
import type { Db } from '../schema/db.js';
import type { RetryPolicy } from '../domain/notice-delivery.js';
import type { ApiMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { UsageRecorder } from './usage.js';

/** What the HTTP app needs from the outside world; tests pass their own. */
export interface AppDeps {
  db: Db;
  temporal: { client: Client; taskQueue: string };
  /** the policy in force (the file is re-read by workflows each cycle; the API reads it at start) */
  policy: () => Policy;
  pickupKey: Buffer;
  logger: Logger;
  corsOrigins?: string[];
  /** how long a decision may wait for a worker before the API answers 503 */
  updateDeadlineMs?: number;
  /** max request body in bytes */
  bodyLimitBytes?: number;
  /** shared with the worker: signs revocation probes sent through the gateway */
  probeSecret?: string;
  /** route → scope map for the gateway auth endpoint (default gateway/routes.json) */
  gatewayRoutesFile?: string;
  /** usage evidence gathered by introspection (flushed in batches); one per app by default */
  usage?: UsageRecorder;
  /** shared by the rate limits; in-process by default */
  rateLimiter?: RateLimiter;
  /** per-minute budgets over the defaults of config/limits.ts */
  limits?: Partial<RateLimits>;
  /** proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES); none by default */
  trustedProxies?: BlockList;
  /** signed checkpoints of the audit chain outside the database, which `/v1/audit/verify` holds the chain against */
  auditCheckpoints?: AuditCheckpoints;
  /** the Prometheus registry the app counts into (served by runtime/processes.ts on METRICS_PORT); none: nothing is counted */
  metrics?: ApiMetrics;
  /** how long a redelivered notice is retried (the worker's WEBHOOKS_FILE retry policy; 24 h by default) */
  noticeRetry?: RetryPolicy;
}
