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
 * Routes the Temporal SDK's own logs (bundler, worker state) into our JSON log at warn and above.
 * The SDK allows one Runtime per process, so this installs at most once.
 */
export function installTemporalRuntime(logger: Logger, level: LogLevel = 'WARN'): void {
  if (installed || Runtime._instance) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      logger[levels[entry.level]]({ ...entry.meta, component: 'temporal-sdk' }, entry.message);
    }),
  });
}
