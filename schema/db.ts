import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Driver } from 'kysely';
import pg from 'pg';
import { ConfigError, redactDatabaseUrl, type DatabaseConfig } from '../config/env.js';
import { ensurePrivateDir, ensurePrivateFile, tightenIfExists } from '../runtime/private-files.js';
import type { Database } from './database.js';
import { migrationProvider } from './migrations/index.js';
import { GroupCommitSqliteDriver } from './sqlite-group-commit.js';

export type Db = Kysely<Database>;

export { dialectOf, lockForUpdate, type Dialect } from './dialect.js';

export interface OpenOptions {
  /** SQLite: how long a write waits for another connection's lock (default 10 s) */
  busyTimeoutMs?: number;
  /** Postgres: connections this process keeps at most (default 10) */
  poolSize?: number;
}

/**
 * The one place the SQL dialect is chosen: SQLite for one machine (`sqlite:<path>`, the default),
 * Postgres when the processes run on several (`postgres://…`). Queries elsewhere are
 * dialect-neutral Kysely; what cannot be (row locks, migrations) asks schema/dialect.ts.
 * Opening connects lazily: connectDatabase() is the start-up path that proves the database answers.
 */
export function openDatabase(database: DatabaseConfig, opts: OpenOptions = {}): Db {
  return database.kind === 'postgres' ? openPostgres(database.url, opts) : openSqlite(database.file, opts);
}

/** The database as a message may name it: the SQLite file, or the URL without its password. */
export function describeDatabase(database: DatabaseConfig): string {
  return database.kind === 'postgres' ? redactDatabaseUrl(database.url) : database.file;
}

/** The database named by DATABASE_URL cannot be used at start-up: one line, the variable and the cause. */
export class DatabaseUnavailable extends ConfigError {}

/**
 * Opens the database and proves it answers (one round trip), for the processes' start-up: an
 * unreachable or misconfigured server is a DatabaseUnavailable naming DATABASE_URL (password
 * hidden) and the cause, which the entry points print as one line before exiting 1.
 */
export async function connectDatabase(database: DatabaseConfig, opts: OpenOptions = {}): Promise<Db> {
  let db: Db | undefined;
  try {
    db = openDatabase(database, opts);
    await sql`select 1`.execute(db);
    return db;
  } catch (err) {
    await db?.destroy().catch(() => undefined);
    throw new DatabaseUnavailable(`DATABASE_URL=${describeDatabase(database)}: cannot use the database: ${causeOf(err)}`);
  }
}

/**
 * An error after which nothing was written and the same request may simply be retried: the
 * database was busy or unreachable, or rolled the transaction back to break a conflict. The API
 * answers these with 503 and Retry-After instead of a 500; anything else is a bug.
 *
 * - SQLite: still locked after the busy timeout (SQLITE_BUSY, SQLITE_LOCKED); rolled back with its
 *   commit group for another transaction's failure (schema/sqlite-group-commit.ts).
 * - Postgres, by SQLSTATE: 08… connection exceptions, 40001 serialization failure, 40P01 deadlock
 *   (Postgres rolled back one side), 53… out of resources (too many connections), 55P03 lock not
 *   available, 57P01-57P03 the server shutting down or starting; and the network itself failing
 *   (refused, reset, timed out, a pool that cannot connect, a connection ended under a query).
 *   A commit cut off this way may or may not have happened: the retry meets the idempotency keys
 *   every write carries.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown[] } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^SQLITE_(BUSY|LOCKED|GROUP_ROLLED_BACK)/.test(code)) return true;
  if (/^(08|53)/.test(code) || ['40001', '40P01', '55P03', '57P01', '57P02', '57P03'].includes(code)) return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  // pg reports these without a code
  if (/^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(message)) return true;
  return Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every(isTransientDatabaseError);
}

/** The first line of what went wrong; Node reports a refused connection to a name with several addresses as an AggregateError without a message. */
function causeOf(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: { message?: string }[] };
  const message = e?.message || e?.errors?.map((inner) => inner.message).filter(Boolean).join('; ') || e?.code || String(err);
  return message.split('\n')[0]!;
}

/**
 * Postgres through a pg Pool. pg itself fills what the URL omits from PGHOST, PGPORT, PGUSER,
 * PGPASSWORD, PGDATABASE and reads TLS from the URL's sslmode/sslrootcert/sslcert/sslkey, else
 * PGSSLMODE (config/env.ts validates both).
 */
function openPostgres(url: string, opts: OpenOptions): Db {
  const pool = new pg.Pool({
    connectionString: verifyingSslMode(url),
    max: opts.poolSize ?? 10,
    // pg waits forever for a connection by default: a blackholed server would hang start-up and requests
    connectionTimeoutMillis: 10_000,
    application_name: 'partner-access',
    types: { getTypeParser: typeParser },
  });
  // A connection the server drops is reported as an 'error' event, which unhandled ends the
  // process: the pool listens on idle connections ('error' here), but not on one in use, which
  // pg reports on as well as failing its query. The query's own error is what the caller sees (a
  // 503, isTransientDatabaseError); the pool discards the dead connection on release.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * pg treats `sslmode` prefer, require and verify-ca as verify-full (the server's certificate is
 * checked), and says so in a multi-line warning on every start. Spelled out here as what pg does,
 * without the warning; `uselibpqcompat=true` in the URL keeps libpq's weaker meanings.
 */
function verifyingSslMode(url: string): string {
  const parsed = new URL(url);
  const mode = parsed.searchParams.get('sslmode');
  if (!mode || !['prefer', 'require', 'verify-ca'].includes(mode) || parsed.searchParams.get('uselibpqcompat') === 'true') return url;
  parsed.searchParams.set('sslmode', 'verify-full');
  return parsed.toString();
}

/**
 * bigint (int8) comes back as a number, as SQLite's integers do: `count(*)` and `sum()` are int8 in
 * Postgres, and pg returns int8 as a string by default (it may exceed 2^53; no count here does).
 * Per pool, not pg's global table, so nothing else in the process changes.
 */
const typeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === pg.types.builtins.INT8 && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser;

function openSqlite(file: string, opts: OpenOptions): Db {
  // SQLite gives the -wal and -shm files the main file's mode: creating that one 0600 first covers all three
  ensurePrivateDir(path.dirname(file));
  for (const suffix of ['-wal', '-shm']) tightenIfExists(`${file}${suffix}`);
  ensurePrivateFile(file);
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
  // FULL: an acknowledged revocation or audit event must survive power loss, not just a crash.
  sqlite.pragma('synchronous = FULL');
  cachePreparedStatements(sqlite);
  let reader: SQLite.Database | undefined;
  const driver = new GroupCommitSqliteDriver(sqlite, () => {
    reader?.close();
    reader = undefined;
  });
  const db = new Kysely<Database>({ dialect: new GroupCommitSqliteDialect(driver) });
  commitStats.set(db, driver.stats);
  sqliteReaders.set(db, () => {
    if (!reader) {
      reader = new SQLite(file, { readonly: true, fileMustExist: true });
      reader.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    }
    return reader;
  });
  return db;
}

const sqliteReaders = new WeakMap<Db, () => SQLite.Database>();

/**
 * A read-only second connection to a SQLite database's file, opened on first use and closed with
 * the database; undefined on Postgres. For the hottest reads only (a key's verdict,
 * schema/repositories/credentials.ts): a synchronous prepared statement without Kysely's one-
 * connection queue. Its own connection, not Kysely's: a read there could land inside another
 * request's open transaction and see what that one has not committed; in WAL mode this one reads
 * the last commit and never waits on a writer.
 */
export const sqliteReader = (db: Db): SQLite.Database | undefined => sqliteReaders.get(db)?.();

/**
 * Every transaction here writes, and the API and the worker write to one file from separate
 * processes. A plain `begin` is deferred: it reads under a shared lock and then fails at once with
 * SQLITE_BUSY when it tries to upgrade while the other process writes (busy_timeout does not apply
 * to that upgrade). `begin immediate` takes the write lock first, so contention waits out the busy
 * timeout instead of failing (measured: revocations under onboarding load got 500s before this).
 * The driver commits transactions that queued for the connection together (schema/sqlite-group-commit.ts).
 */
class GroupCommitSqliteDialect extends SqliteDialect {
  readonly #driver: GroupCommitSqliteDriver;
  constructor(driver: GroupCommitSqliteDriver) {
    super({ database: driver.sqlite });
    this.#driver = driver;
  }
  override createDriver(): Driver {
    return this.#driver;
  }
}

const commitStats = new WeakMap<Db, CommitStats>();
export type CommitStats = GroupCommitSqliteDriver['stats'];

/** SQLite: how many COMMITs this process made and how many transactions they held (undefined on Postgres). */
export const sqliteCommitStats = (db: Db): CommitStats | undefined => commitStats.get(db);

/**
 * Kysely prepares every query it runs; better-sqlite3 statements are reusable, so the same SQL
 * text gets the same prepared statement (measured: introspection spends a large share of its
 * time in prepare otherwise). Bounded; nothing here iterates statements, which would make a
 * shared statement busy.
 */
function cachePreparedStatements(sqlite: SQLite.Database, max = 500): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SQLite.Statement>();
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      statement = prepare(source);
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
}

export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${String((error as Error).message ?? error)}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export const nowIso = (): string => new Date().toISOString();
