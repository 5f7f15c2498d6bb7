import path from 'node:path';
import { z } from 'zod';
import { defaultRetryPolicy } from '../domain/notice-delivery.js';
import { loadWebhookConfig, type WebhookConfig } from './webhooks.js';
import { parseTrustedProxies, TrustedProxiesError } from '../domain/client-address.js';
import { defaultRateLimits } from './limits.js';
import { duration } from './policy.js';
import { parsePayloadKeys, PayloadKeysError } from '../domain/payload-keys.js';

/**
 * Everything the processes read from the environment, validated once at start-up.
 * Temporal's own connection variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE) are read by @temporalio/envconfig when a
 * cluster is used; here we only decide whether one is configured.
 */
const port = z.coerce.number().int().min(0).max(65535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
/** a 32-byte key, as 64 hex characters or base64 */
const dataKey = optionalString.refine(
  (v) => v === undefined || /^[0-9a-fA-F]{64}$/.test(v) || /^[A-Za-z0-9_\-+/]{43}=?$/.test(v),
  'must be 32 bytes as 64 hex characters or base64',
);

/**
 * TLS to Postgres, as `sslmode` in DATABASE_URL or PGSSLMODE, with pg's meanings: `disable` none;
 * `prefer`, `require`, `verify-ca`, `verify-full` encrypt AND verify the server's certificate
 * (stricter than libpq's `require`; `sslrootcert=<file>` in the URL names a private CA);
 * `no-verify` encrypts without verifying.
 */
const sslModes = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;

/**
 * How `npm run gateway` decides (GATEWAY_MODE; runtime/gateway.ts): `edge` on verdicts cached in
 * nginx's shared memory and kept current by the API's change feed (needs nginx's Lua module), or
 * `auth_request`, asking the API on every request. Unset: edge when the Lua module is installed.
 */
export const gatewayModes = ['edge', 'auth_request'] as const;
export type GatewayMode = (typeof gatewayModes)[number];
/** How long a gateway cut off from the change feed keeps honouring cached verdicts (GATEWAY_STALE_TTL, seconds). */
export const DEFAULT_STALE_TTL_SECONDS = 60;
/**
 * The feed is a long poll of up to 25 s and what the gateway knows dates from when it asked, so a
 * healthy feed is up to that old: a shorter stale TTL would expire verdicts on a healthy feed.
 */
export const MIN_STALE_TTL_SECONDS = 30;

/** `postgres://` or `postgresql://`: the URLs that choose the Postgres dialect. */
const isPostgresUrl = (value: string) => /^postgres(ql)?:\/\//.test(value);

/** `sqlite:<path>` / `file:<path>`, or `postgres://…` / `postgresql://…`; what is wrong with it, if anything. */
function databaseUrlProblem(value: string): string | undefined {
  if (value.startsWith('sqlite:') || value.startsWith('file:')) return undefined;
  if (!isPostgresUrl(value)) return 'must be sqlite:<path> or postgres://[user[:password]@]host[:port]/database';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a valid postgres:// URL';
  }
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== null && !(sslModes as readonly string[]).includes(sslmode)) return `sslmode must be one of ${sslModes.join(', ')}`;
  return undefined;
}

/** DATABASE_URL as it may be shown in a message or a log: without its password. */
export function redactDatabaseUrl(value: string): string {
  if (!isPostgresUrl(value)) return value;
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    // unparseable: the part after the scheme may hold a password
    return value.replace(/^(postgres(ql)?:\/\/).*$/, '$1…');
  }
}

/** what is wrong with a PAYLOAD_KEYS value (never the value itself), if anything */
function payloadKeysProblem(value: string): string | undefined {
  try {
    parsePayloadKeys(value);
    return undefined;
  } catch (err) {
    if (err instanceof PayloadKeysError) return err.message;
    throw err;
  }
}

/** a per-minute rate limit (defaults in config/limits.ts) */
const perMinute = z.coerce.number().int().min(1).max(1_000_000_000);

const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  DATA_DIR: z.string().min(1).default('data'),
  DATABASE_URL: optionalString.superRefine((v, ctx) => {
    const problem = v === undefined ? undefined : databaseUrlProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  // pg reads PGSSLMODE itself when the URL names no sslmode; a typo there would silently mean no TLS
  PGSSLMODE: optionalString.refine((v) => v === undefined || (sslModes as readonly string[]).includes(v), `must be one of ${sslModes.join(', ')}`),
  POLICY_FILE: z.string().min(1).default('config/policy.json'),
  GATEWAY_ROUTES_FILE: z.string().min(1).default('gateway/routes.json'),
  // `npm run gateway` (scripts/gateway.ts): nginx in front of a sample upstream
  GATEWAY_TOKEN: optionalString,
  GATEWAY_PORT: port.default(8080),
  GATEWAY_MODE: z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined), z.enum(gatewayModes).optional()),
  GATEWAY_STALE_TTL: z.coerce.number().int().min(MIN_STALE_TTL_SECONDS, `must be at least ${MIN_STALE_TTL_SECONDS} seconds`).default(DEFAULT_STALE_TTL_SECONDS),
  API_UPSTREAM: z.string().regex(/^[^\s/:]+:\d{1,5}$/, 'must be host:port').default('127.0.0.1:3000'),
  SAMPLE_UPSTREAM_PORT: port.default(8081),
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('partner-access'),
  TEMPORAL_CLI_PATH: optionalString,
  TEMPORAL_DEV_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  /** the embedded stack's codec endpoint for the Web UI (decode only, 127.0.0.1) */
  TEMPORAL_UI_CODEC_PORT: port.default(8234),
  PICKUP_KEY: dataKey,
  AUDIT_CHECKPOINT_KEY: dataKey,
  AUDIT_CHECKPOINT_FILE: optionalString,
  /** Temporal payload keys, `<keyId>:<32 bytes base64 or hex>[,…]`: the first encrypts, all decrypt (runtime/payload-codec.ts) */
  PAYLOAD_KEYS: optionalString.superRefine((v, ctx) => {
    const problem = v === undefined ? undefined : payloadKeysProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  /** OpenTelemetry traces to this OTLP/HTTP endpoint (unset: no tracing at all) */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http(s) URL'),
  OTEL_SERVICE_NAME: z.string().min(1).default('partner-access'),
  /** migration only: plaintext payloads (workflows started before the codec) are believed */
  PAYLOAD_CODEC_ACCEPT_PLAINTEXT: z.enum(['true', 'false']).default('false'),
  WEBHOOK_URL: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http(s) URL'),
  WEBHOOK_SECRET: optionalString,
  /** several webhook endpoints, each with its event filter and the variable holding its secret (config/webhooks.ts) */
  WEBHOOKS_FILE: optionalString,
  GATEWAY_VERIFY_URL: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http(s) URL'),
  GATEWAY_PROBE_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  ADMIN_TOKEN: optionalString.refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  CORS_ORIGINS: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WORKFLOW_BUNDLE: optionalString,
  UPDATE_DEADLINE_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  RATE_LIMIT_ONBOARDING_PER_MINUTE: perMinute.default(defaultRateLimits.onboardingPerMinute),
  RATE_LIMIT_DECISIONS_PER_MINUTE: perMinute.default(defaultRateLimits.decisionsPerMinute),
  RATE_LIMIT_INTROSPECTION_FAILURES_PER_MINUTE: perMinute.default(defaultRateLimits.introspectionFailuresPerMinute),
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: perMinute.default(defaultRateLimits.authFailuresPerMinute),
  /** where budgets are counted: `memory` (per API process) or `database` (one budget across processes; the default on Postgres) */
  RATE_LIMIT_STORE: z.enum(['memory', 'database']).optional(),
  /** the API's Prometheus endpoint on a listener of its own (unset: none) */
  METRICS_PORT: port.optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** the worker's Temporal SDK metrics (Prometheus), `host:port` (unset: none) */
  WORKER_METRICS_ADDRESS: optionalString.refine((v) => v === undefined || /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(v), 'must be host:port (for example 127.0.0.1:9464)'),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(1_000_000).default(1000),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(10_000).default(40),
  WORKER_WORKFLOW_THREADS: z.coerce.number().int().min(1).max(64).default(2),
  /** unset: half the workflow-task slots (the SDK's advice), at least 2 */
  WORKER_MAX_WORKFLOW_TASK_POLLS: z.coerce.number().int().min(2).max(10_000).optional(),
  WORKER_NON_STICKY_POLL_RATIO: z.coerce.number().gt(0).max(1).default(0.5),
  /**
   * the longest one activation of workflow code may run before the SDK stops it (a runaway loop
   * fails its workflow task instead of holding a workflow thread); `off`: no watchdog
   * (scripts/patch-temporal-sdk.mjs: Node creates a thread for every call into the sandbox to enforce it)
   */
  WORKER_ACTIVATION_TIMEOUT: z.union([z.literal('off'), duration]).default(5000),
  /** the promise stack traces behind the Temporal UI's "Stack Trace" tab (scripts/patch-temporal-sdk.mjs) */
  WORKER_WORKFLOW_STACK_TRACES: z.enum(['on', 'off']).default('off'),
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((v, ctx) => {
      try {
        return parseTrustedProxies(v);
      } catch (err) {
        if (!(err instanceof TrustedProxiesError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
        return z.NEVER;
      }
    }),
});

export type AppConfig = ReturnType<typeof resolveConfig>;

/** The one database every process of a deployment shares: a SQLite file on one machine, or Postgres. */
export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

function resolveConfig(env: z.infer<typeof envSchema>, cwd: string) {
  const dataDir = path.resolve(cwd, env.DATA_DIR);
  // Postgres: the URL goes to pg as it is, which fills what it omits (host, port, user, password,
  // database) from the PG* variables and reads PGSSLMODE when it names no sslmode.
  const database: DatabaseConfig = env.DATABASE_URL && isPostgresUrl(env.DATABASE_URL)
    ? { kind: 'postgres', url: env.DATABASE_URL }
    : { kind: 'sqlite', file: env.DATABASE_URL ? path.resolve(cwd, env.DATABASE_URL.replace(/^(sqlite|file):(\/\/)?/, '')) : path.join(dataDir, 'app.db') };
  return {
    host: env.HOST,
    port: env.PORT,
    dataDir,
    database,
    policyFile: path.resolve(cwd, env.POLICY_FILE),
    gatewayRoutesFile: path.resolve(cwd, env.GATEWAY_ROUTES_FILE),
    temporal: {
      /** undefined: embedded mode, `npm start` runs a local dev server */
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      cliPath: env.TEMPORAL_CLI_PATH,
      devPort: env.TEMPORAL_DEV_PORT,
      uiPort: env.TEMPORAL_UI_PORT,
      codecPort: env.TEMPORAL_UI_CODEC_PORT,
      devDbFile: path.join(dataDir, 'temporal.db'),
      /** a prebuilt workflow bundle (bundleWorkflowCode output) to skip bundling at start */
      workflowBundle: env.WORKFLOW_BUNDLE ? path.resolve(cwd, env.WORKFLOW_BUNDLE) : undefined,
    },
    pickupKey: env.PICKUP_KEY,
    pickupKeyFile: path.join(dataDir, 'pickup.key'),
    /** signed checkpoints of the audit chain, outside the database: the key and the append-only file */
    auditCheckpoints: {
      key: env.AUDIT_CHECKPOINT_KEY,
      keyFile: path.join(dataDir, 'audit-checkpoint.key'),
      file: env.AUDIT_CHECKPOINT_FILE ? path.resolve(cwd, env.AUDIT_CHECKPOINT_FILE) : path.join(dataDir, 'audit-checkpoints.ndjson'),
    },
    /** OpenTelemetry traces (runtime/tracing.ts): undefined endpoint, none */
    tracing: { endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: env.OTEL_SERVICE_NAME },
    /** the Temporal payload codec's keys: PAYLOAD_KEYS, or a file under the data dir made on first run */
    payloadCodec: {
      keys: env.PAYLOAD_KEYS,
      keysFile: path.join(dataDir, 'payload.keys'),
      acceptPlaintext: env.PAYLOAD_CODEC_ACCEPT_PLAINTEXT === 'true',
    },
    /** set by loadConfig from WEBHOOK_URL / WEBHOOKS_FILE (config/webhooks.ts) */
    webhooks: { endpoints: [], retry: defaultRetryPolicy } as WebhookConfig,
    /** `npm run gateway`; the failed-key budget per client at the edge is limits.introspectionFailuresPerMinute */
    gateway: {
      token: env.GATEWAY_TOKEN,
      port: env.GATEWAY_PORT,
      /** undefined: edge when nginx's Lua module is installed (runtime/gateway.ts resolveGatewayMode) */
      mode: env.GATEWAY_MODE,
      staleTtlSeconds: env.GATEWAY_STALE_TTL,
      apiUpstream: env.API_UPSTREAM,
      sampleUpstreamPort: env.SAMPLE_UPSTREAM_PORT,
      runtimeDir: path.join(dataDir, 'gateway'),
    },
    probeSecret: env.GATEWAY_PROBE_SECRET,
    gatewayProbe: env.GATEWAY_VERIFY_URL && env.GATEWAY_PROBE_SECRET ? { url: env.GATEWAY_VERIFY_URL, secret: env.GATEWAY_PROBE_SECRET } : undefined,
    adminToken: env.ADMIN_TOKEN,
    corsOrigins: env.CORS_ORIGINS ? env.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean) : [],
    logLevel: env.LOG_LEVEL,
    updateDeadlineMs: env.UPDATE_DEADLINE_MS,
    limits: {
      onboardingPerMinute: env.RATE_LIMIT_ONBOARDING_PER_MINUTE,
      decisionsPerMinute: env.RATE_LIMIT_DECISIONS_PER_MINUTE,
      introspectionFailuresPerMinute: env.RATE_LIMIT_INTROSPECTION_FAILURES_PER_MINUTE,
      authFailuresPerMinute: env.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE,
    },
    /** several API processes share a Postgres database, so their budgets are counted there by default */
    rateLimitStore: env.RATE_LIMIT_STORE ?? (database.kind === 'postgres' ? ('database' as const) : ('memory' as const)),
    /** proxies whose X-Forwarded-For is believed (parsed once) */
    trustedProxies: env.TRUSTED_PROXIES,
    /** the API's metrics listener (undefined: no metrics endpoint) */
    metrics: env.METRICS_PORT === undefined ? undefined : { host: env.METRICS_HOST, port: env.METRICS_PORT },
    worker: {
      /** where the Temporal SDK serves its Prometheus metrics (undefined: not exported) */
      metricsAddress: env.WORKER_METRICS_ADDRESS,
      tuning: {
        maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
        maxConcurrentActivityTaskExecutions: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
        maxConcurrentWorkflowTaskExecutions: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
        workflowThreadPoolSize: env.WORKER_WORKFLOW_THREADS,
        maxConcurrentWorkflowTaskPolls: env.WORKER_MAX_WORKFLOW_TASK_POLLS ?? Math.max(2, Math.floor(env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS / 2)),
        nonStickyToStickyPollRatio: env.WORKER_NON_STICKY_POLL_RATIO,
        isolateExecutionTimeout: env.WORKER_ACTIVATION_TIMEOUT === 'off' ? 0 : env.WORKER_ACTIVATION_TIMEOUT,
        workflowStackTraces: env.WORKER_WORKFLOW_STACK_TRACES === 'on',
      },
    },
  };
}

export class ConfigError extends Error {}

/** Variables whose values are keys, tokens or secrets. */
const secretVariables = new Set(['PICKUP_KEY', 'AUDIT_CHECKPOINT_KEY', 'PAYLOAD_KEYS', 'ADMIN_TOKEN', 'WEBHOOK_SECRET', 'GATEWAY_PROBE_SECRET', 'GATEWAY_TOKEN', 'TEMPORAL_API_KEY']);

/** Parses the environment; throws ConfigError with one line naming the variable and the problem. */

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    // a secret is named, never shown: the message goes to a terminal, a log, a CI transcript
    if (secretVariables.has(name)) throw new ConfigError(`Invalid configuration: ${name} (value not shown): ${issue.message}`);
    const shown = name === 'DATABASE_URL' ? redactDatabaseUrl(env[name] ?? '') : (env[name] ?? '');
    throw new ConfigError(`Invalid configuration: ${name}=${JSON.stringify(shown)}: ${issue.message}`);
  }
  if (parsed.data.WEBHOOK_URL && !parsed.data.WEBHOOK_SECRET) {
    throw new ConfigError('Invalid configuration: WEBHOOK_SECRET is required when WEBHOOK_URL is set');
  }
  if (parsed.data.GATEWAY_VERIFY_URL && !parsed.data.GATEWAY_PROBE_SECRET) {
    throw new ConfigError('Invalid configuration: GATEWAY_PROBE_SECRET is required when GATEWAY_VERIFY_URL is set');
  }
  // the SDK would quietly lower it; a cached workflow is needed for each task running at once
  const { WORKER_MAX_CACHED_WORKFLOWS: cached, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: tasks, WORKER_MAX_WORKFLOW_TASK_POLLS: polls } = parsed.data;
  if (cached > 0 && tasks > cached) {
    throw new ConfigError(`Invalid configuration: WORKER_MAX_CONCURRENT_WORKFLOW_TASKS=${tasks} must not exceed WORKER_MAX_CACHED_WORKFLOWS=${cached} (or set that to 0: no cache)`);
  }
  // a poll holds a task slot: more polls than slots is refused by the SDK at start
  if (polls !== undefined && polls > tasks) {
    throw new ConfigError(`Invalid configuration: WORKER_MAX_WORKFLOW_TASK_POLLS=${polls} must not exceed WORKER_MAX_CONCURRENT_WORKFLOW_TASKS=${tasks}`);
  }
  const config = resolveConfig(parsed.data, cwd);
  try {
    config.webhooks = loadWebhookConfig({ ...env, ...(parsed.data.WEBHOOKS_FILE ? { WEBHOOKS_FILE: path.resolve(cwd, parsed.data.WEBHOOKS_FILE) } : {}) });
  } catch (err) {
    throw new ConfigError(`Invalid configuration: ${(err as Error).message}`);
  }
  return config;
}
