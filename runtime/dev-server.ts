import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ensurePrivateDir, tightenIfExists } from './private-files.js';
import { searchAttributeKeys } from './search-attributes.js';

export class PortInUse extends Error {}

/** Resolves when nothing listens on host:port; rejects with PortInUse otherwise. */
export function assertPortFree(port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUse(`port ${port} (${what}) is already in use on ${host}; set the matching *_PORT variable or stop the other process`) : err),
    );
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** A port nothing listens on right now (for tests, benchmarks and side-by-side stacks). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface DevServer {
  process: ChildProcess;
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` persisted to a SQLite file, with the Web UI and the product's
 * search attributes. Its output goes to a log file beside the database, not to our stdout.
 */
export function startDevServer(opts: { cli: string; dbFile: string; port: number; uiPort: number; namespace: string; codecEndpoint?: string }): DevServer {
  ensurePrivateDir(path.dirname(opts.dbFile));
  // workflow state (and the log) is partner data: 0600 like ours, also when an older release left them open
  for (const suffix of ['', '-wal', '-shm']) tightenIfExists(`${opts.dbFile}${suffix}`);
  const logFile = path.join(path.dirname(opts.dbFile), 'temporal.log');
  const log = fs.openSync(logFile, 'a', 0o600);
  tightenIfExists(logFile);
  const args = [
    'server', 'start-dev',
    '--db-filename', opts.dbFile,
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--namespace', opts.namespace,
    // the Web UI decrypts the payloads it shows through our codec endpoint (runtime/codec-server.ts)
    ...(opts.codecEndpoint ? ['--ui-codec-endpoint', opts.codecEndpoint] : []),
    '--log-level', 'warn',
    // WAL keeps every commit durable (synchronous=FULL syncs the log on each commit) with one
    // fsync instead of the rollback journal's several; the benchmark's write-bound phases need it
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=full',
    ...searchAttributeKeys.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  // The CLI creates its database with its own modes; a umask of 077 for it alone (set by a shell
  // that then execs the CLI, same pid) makes them 0600 without touching this process's umask.
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', opts.cli, ...args], { stdio: ['ignore', log, log] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    address: `127.0.0.1:${opts.port}`,
    uiUrl: `http://127.0.0.1:${opts.uiPort}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      fs.closeSync(log);
    },
  };
}
