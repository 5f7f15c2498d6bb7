import { sql, type Kysely } from 'kysely';
import { autoIncrementPrimaryKey, dialectOf } from '../dialect.js';

// Migrations take Kysely<any>: they describe the schema at their point in time, not today's types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('partners')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('contact_email', 'text', (c) => c.notNull())
    .addColumn('sponsor', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('justification', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('stage', 'text')
    .addColumn('escalated', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('access_until', 'text', (c) => c.notNull())
    .addColumn('next_deadline_at', 'text')
    .addColumn('next_deadline_action', 'text')
    .addColumn('policy_version', 'text', (c) => c.notNull())
    .addColumn('rate_limit_tier', 'text', (c) => c.notNull())
    .addColumn('request_token_hash', 'text', (c) => c.notNull())
    .addColumn('recert_cycle', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_certified_at', 'text')
    .addColumn('pending_extension', 'text')
    .addColumn('planned_offboarding', 'text')
    .addColumn('end_reason', 'text')
    .addColumn('ended_at', 'text')
    .addColumn('transition_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('partners_state_idx').on('partners').columns(['state', 'id']).execute();
  await db.schema.createIndex('partners_sponsor_idx').on('partners').columns(['sponsor', 'id']).execute();
  await db.schema.createIndex('partners_environment_idx').on('partners').columns(['environment', 'id']).execute();

  await db.schema
    .createTable('credentials')
    .addColumn('key_id', 'text', (c) => c.primaryKey())
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('retire_at', 'text')
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .addColumn('revoke_reason', 'text')
    .addUniqueConstraint('credentials_partner_version_uq', ['partner_id', 'version'])
    .execute();

  await db.schema
    .createTable('credential_pickups')
    .addColumn('key_id', 'text', (c) => c.primaryKey().references('credentials.key_id'))
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('sealed', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('picked_up_at', 'text')
    .execute();

  await db.schema
    .createTable('decisions')
    .addColumn('id', 'integer', autoIncrementPrimaryKey(db))
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('step_key', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('stage', 'text')
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text')
    .addColumn('access_until', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('decisions_partner_idx').on('decisions').column('partner_id').execute();

  await db.schema
    .createTable('recertifications')
    .addColumn('id', 'integer', autoIncrementPrimaryKey(db))
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('cycle', 'integer', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text')
    .addColumn('evidence', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    .addUniqueConstraint('recertifications_partner_cycle_uq', ['partner_id', 'cycle'])
    .execute();

  await db.schema
    .createTable('operators')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('roles', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();

  await db.schema
    .createTable('notifications')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('partner_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('recipients', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'text')
    .execute();
  await db.schema.createIndex('notifications_partner_idx').on('notifications').column('partner_id').execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', 'integer', (c) => c.primaryKey())
    .addColumn('event_key', 'text', (c) => c.notNull().unique())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('partner_id', 'text')
    .addColumn('before', 'text')
    .addColumn('after', 'text')
    .addColumn('reason', 'text')
    .addColumn('details', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_events_partner_idx').on('audit_events').columns(['partner_id', 'seq']).execute();

  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.insertInto('audit_head').values({ id: 1, seq: 0, hash: '0'.repeat(64) }).execute();
  // The audit trail is append-only: the database itself refuses edits and deletes.
  if (dialectOf(db) === 'postgres') {
    // Postgres triggers call a function; TRUNCATE skips row triggers, so it gets its own.
    await sql`CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$`.execute(db);
    await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
              FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`.execute(db);
    await sql`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
              FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`.execute(db);
    await sql`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
              FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`.execute(db);
  } else {
    // (the continuation lines keep their original indentation: it is part of the stored schema text)
    await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`.execute(db);
    await sql`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`.execute(db);
  }

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('body_hash', 'text', (c) => c.notNull())
    .addColumn('partner_id', 'text', (c) => c.notNull())
    .addColumn('response', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['scope', 'key'])
    .execute();

  await db.schema
    .createTable('usage_counters')
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_counters_pk', ['key_id', 'scope', 'day'])
    .execute();

  await db.schema
    .createTable('pending_signals')
    .addColumn('id', 'integer', autoIncrementPrimaryKey(db))
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('signal', 'text', (c) => c.notNull())
    .addColumn('args', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'pending_signals', 'usage_counters', 'idempotency_keys', 'audit_head', 'audit_events', 'notifications',
    'operators', 'recertifications', 'decisions', 'credential_pickups', 'credentials', 'partners',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
  // Postgres: the trigger function outlives its table
  if (dialectOf(db) === 'postgres') await sql`DROP FUNCTION IF EXISTS audit_events_append_only()`.execute(db);
}
