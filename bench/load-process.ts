/**
 * autocannon in a process of its own (bench/load.ts runs it): the load generator never shares the
 * server's event loop. Run through autocannon's API rather than its CLI so that connection-level
 * errors come back by their code (ECONNRESET, "request timed out" …), not only as a count.
 * argv[2]: autocannon's options as JSON. Prints one JSON line: autocannon's result plus `errorCodes`
 * and `cpuSeconds` (this process's user + system CPU).
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

type Autocannon = (options: Record<string, unknown>, done: (err: Error | null, result: Record<string, unknown>) => void) => EventEmitter;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const errorCodes: Record<string, number> = {};
const instance = autocannon(JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>, (err, result) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  // its own CPU: the load generator shares the machine with what it measures
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ ...result, errorCodes, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
});
instance.on('reqError', (error: NodeJS.ErrnoException) => {
  const code = error.code ?? error.message;
  errorCodes[code] = (errorCodes[code] ?? 0) + 1;
});
