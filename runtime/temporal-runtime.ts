import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed = false;

/**
 * Routes the Temporal SDK's own logs (bundler, worker state) into our JSON log at warn and above,
 * and with `metricsAddress` (WORKER_METRICS_ADDRESS, `host:port`) serves the SDK's metrics
 * (`temporal_*`: task latencies, slots, cache, activity outcomes, and what our activities record
 * through their metricMeter) for Prometheus at `http://<address>/metrics`.
 * The SDK allows one Runtime per process, so this installs at most once: the first call decides.
 */
export function installTemporalRuntime(logger: Logger, level: LogLevel = 'WARN', metricsAddress?: string): void {
  if (installed || Runtime._instance) {
    if (metricsAddress) logger.warn({ metricsAddress }, 'the Temporal runtime was installed already: its metrics are not exported here');
    return;
  }
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      logger[levels[entry.level]]({ ...entry.meta, component: 'temporal-sdk' }, entry.message);
    }),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
  });
}
