import path from 'node:path';
import SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from 'kysely';
import type { AppConfig } from '../config/env.js';
import { ensurePrivateDir, ensurePrivateFile, tightenIfExists } from '../runtime/private-files.js';
import type { Database } from './database.js';
import { migrationProvider } from './migrations/index.js';

export type Db = Kysely<Database>;

/**
 * The one place the SQL dialect is chosen. Queries elsewhere are dialect-neutral Kysely, so a
 * Postgres dialect can be added here without touching them.
 */
export function openDatabase(database: AppConfig['database'], opts: { busyTimeoutMs?: number } = {}): Db {
  // SQLite gives the -wal and -shm files the main file's mode: creating that one 0600 first covers all three
  ensurePrivateDir(path.dirname(database.file));
  for (const suffix of ['-wal', '-shm']) tightenIfExists(`${database.file}${suffix}`);
  ensurePrivateFile(database.file);
  const sqlite = new SQLite(database.file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
  // FULL: an acknowledged revocation or audit event must survive power loss, not just a crash.
  sqlite.pragma('synchronous = FULL');
  cachePreparedStatements(sqlite);
  return new Kysely<Database>({ dialect: new WriteLockingSqliteDialect({ database: sqlite }) });
}

/**
 * Every transaction here writes, and the API and the worker write to one file from separate
 * processes. A plain `begin` is deferred: it reads under a shared lock and then fails at once with
 * SQLITE_BUSY when it tries to upgrade while the other process writes (busy_timeout does not apply
 * to that upgrade). `begin immediate` takes the write lock first, so contention waits out the busy
 * timeout instead of failing (measured: revocations under onboarding load got 500s before this).
 */
class WriteLockingSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new WriteLockingSqliteDriver(this.#config);
  }
}

class WriteLockingSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

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
