import type { Kysely } from 'kysely';

/**
 * Notices that are not lost (issue #16, item 9): each notice is delivered to every webhook
 * endpoint whose event filter matches it, one row per notice and endpoint, retried with backoff
 * until `retry_until` and then kept as a dead letter that operators see and can redeliver. A worker
 * claims a due row by setting `lease_until`, so several workers never send the same attempt twice.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('notice_deliveries')
    .addColumn('notification_id', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull())
    /** pending, delivered or dead */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('retry_until', 'text', (c) => c.notNull())
    .addColumn('lease_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'text')
    .addPrimaryKeyConstraint('notice_deliveries_pk', ['notification_id', 'endpoint'])
    .execute();
  await db.schema.createIndex('notice_deliveries_due').on('notice_deliveries').columns(['status', 'next_attempt_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('notice_deliveries').execute();
}
