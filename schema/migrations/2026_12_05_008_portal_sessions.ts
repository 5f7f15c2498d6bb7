import type { Kysely } from 'kysely';

/**
 * Sessions of the portal and the console (issue #15): a browser signs in once with an operator
 * token, a request token or a key and then holds only a random session id in an HttpOnly cookie.
 * The row keeps the id's SHA-256 (a reader of the database cannot take a session over) and the
 * hash of the credential it was opened with, re-checked on every request, so a revoked operator,
 * a rotated token or a retired key ends its sessions at once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('portal_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('credential_kind', 'text', (c) => c.notNull())
    .addColumn('credential_hash', 'text', (c) => c.notNull())
    /** what the credential proved at sign-in (partner id, key id); never the credential */
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('portal_sessions_expiry').on('portal_sessions').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('portal_sessions').execute();
}
