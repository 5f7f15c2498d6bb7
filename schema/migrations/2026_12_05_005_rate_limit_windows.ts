import type { Kysely } from 'kysely';

/**
 * Rate-limit counts shared by every API process (issue #13): one row per budget key and window,
 * so two API processes on one database allow one budget, not two. Rows outlive their use by one
 * window (the next window weighs the previous one) and are pruned by `expires_at`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rate_limit_windows')
    .addColumn('key', 'text', (c) => c.notNull())
    // epoch milliseconds: integer arithmetic on both dialects
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_limit_windows_pk', ['key', 'window_start'])
    .execute();
  await db.schema.createIndex('rate_limit_windows_expiry_idx').on('rate_limit_windows').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limit_windows').ifExists().execute();
}
