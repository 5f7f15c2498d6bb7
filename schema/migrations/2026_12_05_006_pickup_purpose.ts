import type { Kysely } from 'kysely';

/**
 * Each one-time pickup copy says why its key was issued (security review of #11's fixes): the
 * request token may take only the key issued at approval, never a rotation's, which only the
 * rotate request itself hands out. Before this, a request token racing a rotation could take the
 * new key, leaving the partner with a retiring key and the token's holder with the only live one.
 * Copies written before this migration were all approvals' or are wiped, so that is the default.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credential_pickups').addColumn('purpose', 'text', (c) => c.notNull().defaultTo('approval')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credential_pickups').dropColumn('purpose').execute();
}
