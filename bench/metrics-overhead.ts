/**
 * What the API's metrics cost (issue #17): the same stack and database served by two apps, one
 * without a registry (METRICS_PORT unset: nothing counted) and one counting into a registry
 * (METRICS_PORT set), under the same load, interleaved (bench/overhead.ts).
 *
 *   npx tsx bench/metrics-overhead.ts [--duration 5] [--connections 10] [--rounds 2]
 *
 * About 6 × rounds × duration seconds of load, plus a dev server and one partner's approval.
 */
import { createApp } from '../api/app.js';
import { ApiMetrics } from '../api/metrics.js';
import { unlimitedRateLimits } from '../config/limits.js';
import { startLocalStack } from '../runtime/local-stack.js';
import { createLogger } from '../runtime/services.js';
import { installTemporalRuntime } from '../runtime/temporal-runtime.js';
import { measureOverhead } from './overhead.js';

const logger = createLogger('warn');
installTemporalRuntime(logger);
const local = await startLocalStack({ name: 'pa-bench-metrics-', taskQueue: 'bench-metrics', logger });
try {
  const off = createApp(local.appDeps({ limits: unlimitedRateLimits }));
  const on = createApp(local.appDeps({ limits: unlimitedRateLimits, metrics: new ApiMetrics() }));
  console.log(JSON.stringify(await measureOverhead(local, { off, on })));
} finally {
  await local.stop();
}
