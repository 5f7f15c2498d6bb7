import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import type { AppConfig } from '../config/env.js';
import type { Database } from './database.js';
import { migrationProvider } from './migrations/index.js';

export type Db = Kysely<Database>;

/**
 * The one place the SQL dialect is chosen. Queries elsewhere are dialect-neutral Kysely, so a
 * Postgres dialect can be added here without touching them.
 */
export function openDatabase(database: AppConfig['database']): Db {
  fs.mkdirSync(path.dirname(database.file), { recursive: true });
  const sqlite = new SQLite(database.file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 10000');
  // FULL: an acknowledged revocation or audit event must survive power loss, not just a crash.
  sqlite.pragma('synchronous = FULL');
  cachePreparedStatements(sqlite);
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
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
