import type { Kysely } from 'kysely';

/**
 * Erasure of a partner's contact data on request once its access has ended (issue #16, item 11):
 * when it happened. Name, contact and justification are overwritten in place; the audit trail,
 * which never held them, still verifies.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('partners').addColumn('erased_at', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('partners').dropColumn('erased_at').execute();
}
