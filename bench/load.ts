import { spawn } from 'node:child_process';
import path from 'node:path';

const loadProcess = path.resolve(import.meta.dirname, 'load-process.ts');

export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** connection-level errors (no answer): their count, and by code */
  errors: number;
  errorCodes: Record<string, number>;
  non2xx: number;
  total: number;
  /** the load generator's own CPU (user + system) over the run */
  generatorCpuSeconds: number;
}

/** autocannon in a process of its own: the load generator never shares the server's event loop. */
export function runLoad(opts: { url: string; method?: string; headers?: Record<string, string>; body?: string; connections: number; durationSeconds: number }): Promise<LoadResult> {
  const options = { url: opts.url, method: opts.method ?? 'GET', headers: opts.headers, body: opts.body, connections: opts.connections, duration: opts.durationSeconds };
  const args = ['--import', 'tsx', loadProcess, JSON.stringify(options)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err.slice(-500)}`));
      const r = JSON.parse(out) as { requests: { average: number; total: number }; latency: { p50: number; p99: number }; errors: number; errorCodes: Record<string, number>; non2xx: number; cpuSeconds: number };
      resolve({ requestsPerSecond: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, errorCodes: r.errorCodes, non2xx: r.non2xx, total: r.requests.total, generatorCpuSeconds: r.cpuSeconds });
    });
  });
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
