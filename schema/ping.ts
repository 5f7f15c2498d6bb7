import { sql } from 'kysely';
import type { Db } from './db.js';

/** Readiness: the database this process uses answers a query (whichever dialect it is). */
export function databaseAnswers(db: Db): Promise<boolean> {
  return sql`select 1 as ok`
    .execute(db)
    .then(() => true)
    .catch(() => false);
}
