/**
 * What tracing costs (issue #17 item 2): one app served twice, plain and through the HTTP span
 * (runtime/tracing.ts `tracedFetch`, what OTEL_EXPORTER_OTLP_ENDPOINT turns on), spans batched and
 * exported over OTLP/HTTP to a receiver in this process that takes and drops them; the same load,
 * interleaved. The tracer provider is installed for the whole process, so "off" here still has its
 * context manager: off in production (no endpoint) installs nothing at all.
 *
 *   npx tsx bench/tracing-overhead.ts [--duration 5] [--connections 10] [--rounds 2]
 *
 * About 6 × rounds × duration seconds of load, plus a dev server and one partner's approval.
 */
import { createApp } from '../api/app.js';
import http from 'node:http';
import { unlimitedRateLimits } from '../config/limits.js';
import { startLocalStack } from '../runtime/local-stack.js';
import { createLogger } from '../runtime/services.js';
import { installTemporalRuntime } from '../runtime/temporal-runtime.js';
import { measureOverhead } from './overhead.js';
import { startTracing, tracedFetch } from '../runtime/tracing.js';


// the OTLP receiver: counts the spans' bytes and drops them
let exportedBytes = 0;
const receiver = http.createServer((req, res) => {
  req.on('data', (c: Buffer) => (exportedBytes += c.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const tracing = startTracing(`http://127.0.0.1:${(receiver.address() as import('node:net').AddressInfo).port}`, 'partner-access-bench')!;

const logger = createLogger('warn');
installTemporalRuntime(logger);
const local = await startLocalStack({ name: 'pa-bench-tracing-', taskQueue: 'bench-tracing', logger });
try {
  const off = createApp(local.appDeps({ limits: unlimitedRateLimits }));
  const on = { fetch: tracedFetch(off.fetch) };
  const result = await measureOverhead(local, { off, on });
  await tracing.spanProcessor.forceFlush();
  console.log(JSON.stringify({ ...result, exportedBytes }));
} finally {
  await local.stop();
  await tracing.shutdown();
  receiver.close();
}
