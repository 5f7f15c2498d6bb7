import type { Kysely } from 'kysely';

/**
 * Idempotency keys become per caller and expiring (api/idempotency.ts): `scope` and `key` now
 * hold HMACs, and rows older than 24 h are pruned by `created_at`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Rows of the old form (a raw scope, one shared `public` scope for every anonymous caller) can
  // never match an HMAC again; they would only keep sealed request tokens around for nothing.
  await db.deleteFrom('idempotency_keys').execute();
  await db.schema.createIndex('idempotency_keys_created_at_idx').on('idempotency_keys').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('idempotency_keys_created_at_idx').ifExists().execute();
}
