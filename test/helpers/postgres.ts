/**
 * A throwaway Postgres server for the test run: Debian's server binaries (installed by
 * scripts/install-postgres.sh when missing, as the Temporal CLI and nginx are), a cluster in a
 * temp dir on a free port with its socket in that dir, trust authentication on loopback only.
 * The global setup starts ONE per run; each test stack creates a database of its own on it, so
 * tests stay as isolated as their per-test SQLite files.
 *
 * Postgres refuses to run as root: as root, initdb and the server run as the `postgres` OS user
 * (the package creates it) on a directory chowned to it; as anyone else, as that user.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const projectRoot = path.resolve(import.meta.dirname, '../..');

export interface PostgresServer {
  /** URL of the maintenance database `postgres` (superuser `postgres`, trust auth, loopback) */
  url: string;
  port: number;
  dir: string;
  /** stops the server, keeping its data (a database that goes away under a running app) */
  pause(): void;
  /** starts it again on the same port */
  resume(): void;
  stop(): Promise<void>;
}

/** `/usr/lib/postgresql/<version>/bin` with initdb and postgres, the newest version first. */
export function postgresBinDir(opts: { autoInstall?: boolean } = {}): string {
  const find = () => {
    const root = '/usr/lib/postgresql';
    const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
    return versions
      .map((v) => path.join(root, v, 'bin'))
      .find((bin) => ['initdb', 'postgres', 'pg_ctl'].every((b) => fs.existsSync(path.join(bin, b))));
  };
  const found = process.env.POSTGRES_BIN_DIR ?? find();
  if (found) return found;
  if (opts.autoInstall) {
    spawnSync('bash', [path.join(projectRoot, 'scripts', 'install-postgres.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    const installed = find();
    if (installed) return installed;
  }
  throw new Error('the Postgres server is not installed: run scripts/install-postgres.sh (apt-get install postgresql)');
}

const runningAsRoot = () => process.getuid?.() === 0;

/** Runs a server binary, as the `postgres` OS user when we are root; throws with its output on failure. */
function runAsServerUser(bin: string, args: string[]): void {
  const [command, argv] = runningAsRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const result = spawnSync(command, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  if (result.status !== 0) {
    throw new Error(`${path.basename(bin)} failed (${result.status ?? result.signal}): ${(result.stderr || result.stdout || String(result.error ?? '')).trim()}`);
  }
}

/** A port nothing listens on, below Linux's ephemeral range (32768-60999) so no client socket takes it meanwhile. */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port for Postgres');
}

const clusterPrefix = 'pa-pg-';
/** the process that started a cluster: while it lives, the cluster is in use */
const ownerFile = 'owner.pid';

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * pg_ctl runs the server detached: a test run killed before its teardown (Ctrl-C twice, a CI
 * timeout) leaves its cluster running. Each cluster names the process that started it; one whose
 * process is gone is stopped and removed when the next cluster starts.
 */
function reapOrphanedClusters(bin: string): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(clusterPrefix)) continue;
    const dir = path.join(os.tmpdir(), name);
    let owner: number;
    try {
      owner = Number(fs.readFileSync(path.join(dir, ownerFile), 'utf8'));
    } catch {
      continue; // not one of ours, or still being created
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    try {
      if (fs.existsSync(path.join(dir, 'data', 'postmaster.pid'))) runAsServerUser(path.join(bin, 'pg_ctl'), ['-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function startPostgres(opts: { autoInstall?: boolean } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir(opts);
  reapOrphanedClusters(bin);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), clusterPrefix));
  fs.writeFileSync(path.join(dir, ownerFile), String(process.pid));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'postgres.log');
  if (runningAsRoot()) {
    const owner = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const group = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (owner.status !== 0) throw new Error('running as root needs the `postgres` OS user (Debian\'s postgresql package creates it)');
    fs.chownSync(dir, Number(owner.stdout.trim()), Number(group.stdout.trim()));
  }
  // A throwaway cluster: trust auth (it listens on loopback and a private socket dir only), no fsync
  // at initdb, UTF-8 whatever the machine's locale.
  runAsServerUser(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync']);
  const pgCtl = path.join(bin, 'pg_ctl');
  const start = (port: number) => {
    const settings = [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses='127.0.0.1'",
      // every test stack holds a pool of its own (and the multi-process tests several)
      '-c max_connections=300',
      // the data is thrown away after the run: durability costs time and proves nothing here
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
    ].join(' ');
    runAsServerUser(pgCtl, ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings, 'start']);
  };
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      start(port);
      break;
    } catch (err) {
      // the port was taken between the probe and the bind: try another
      if (attempt >= 3) throw new Error(`${(err as Error).message}\n${fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : ''}`);
    }
  }
  let stopped = false;
  let running = true;
  // fast: every connection is ended at once, and what was committed is kept (immediate would drop
  // the last commits here: synchronous_commit is off); at the end nothing needs keeping
  const halt = (mode: 'fast' | 'immediate') => runAsServerUser(pgCtl, ['-D', data, '-m', mode, '-w', 'stop']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    pause() {
      if (running) halt('fast');
      running = false;
    },
    resume() {
      if (!running) start(port);
      running = true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        if (running) halt('immediate');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let databaseSequence = 0;

/**
 * Creates an empty database on the run's server (the maintenance URL `serverUrl`) and returns its
 * URL: one per test stack, as each had its own SQLite file.
 */
export async function createTestDatabase(serverUrl: string, prefix = 'pa'): Promise<string> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${++databaseSequence}`.toLowerCase();
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad test database name ${name}`);
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops a database made by createTestDatabase (pools on it must be closed first). */
export async function dropTestDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad test database name ${name}`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
