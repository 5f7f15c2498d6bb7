import type { Kysely } from 'kysely';

/**
 * Who holds a partner suspended for security (issue #16, item 4): the operator's label while
 * security's suspension lasts, null otherwise. The state alone (`suspended`) does not say whether
 * the sponsor's late answer can lift it (an unanswered review) or only security can (its own
 * suspension), and the inbox must not offer the sponsor a decision the workflow refuses.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('partners').addColumn('suspended_by', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('partners').dropColumn('suspended_by').execute();
}
