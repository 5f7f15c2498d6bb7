import type { Kysely } from 'kysely';

/**
 * Operator tokens expire (issue #16, item 6): `expires_at` (null: never, the tokens created before
 * this migration and the first admin's) and when the token was last replaced.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('operators').addColumn('expires_at', 'text').execute();
  await db.schema.alterTable('operators').addColumn('rotated_at', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('operators').dropColumn('rotated_at').execute();
  await db.schema.alterTable('operators').dropColumn('expires_at').execute();
}
