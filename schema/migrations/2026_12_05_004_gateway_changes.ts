import { sql, type Kysely } from 'kysely';

/**
 * The gateways' change feed (issue #14): every change that can alter a key's verdict at the edge
 * becomes a row of `gateway_changes`, written by triggers in the same transaction as the change,
 * so every writer (workflow activities, the API, an operator's SQL, writers not yet written) emits
 * it without application code, and every API process serves the same feed from the database.
 * `seq` is the gateways' cursor: AUTOINCREMENT never reuses a number, even after pruning.
 *
 * SQLite serialises writers, so `seq` order is commit order: a gateway that read up to `seq` N has
 * seen every change committed before N's. POSTGRES (issue #13) needs its own version of
 * TRIGGER_SQL below: plpgsql trigger functions, and a transaction-scoped lock taken before the
 * insert (e.g. pg_advisory_xact_lock on one constant) so that seq order equals commit order
 * (a sequence alone hands out numbers in insertion order, and a later number can commit first,
 * which a cursor would then skip).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('gateway_changes')
    .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('partner_id', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  // pruning by age (the feed itself reads by seq, the primary key)
  await db.schema.createIndex('gateway_changes_at_idx').on('gateway_changes').column('at').execute();
  for (const statement of TRIGGER_SQL) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of TRIGGER_NAMES) await sql.raw(`DROP TRIGGER IF EXISTS ${name}`).execute(db);
  await db.schema.dropTable('gateway_changes').ifExists().execute();
}

// ISO-8601 UTC with milliseconds, the form every other timestamp of the schema has.
const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
const change = (partner: string, key: string, kind: string) =>
  `INSERT INTO gateway_changes (partner_id, key_id, kind, at) VALUES (${partner}, ${key}, ${kind}, ${NOW});`;

/** The columns whose change alters a verdict: the kind names the first that changed. */
const credentialColumns = ['status', 'expires_at', 'retire_at', 'environment'];
const partnerColumns = ['state', 'scopes', 'rate_limit_tier', 'environment'];
const changed = (columns: string[]) => columns.map((c) => `OLD.${c} IS NOT NEW.${c}`).join(' OR ');
const kindOf = (table: string, columns: string[]) =>
  `CASE ${columns.map((c) => `WHEN OLD.${c} IS NOT NEW.${c} THEN '${table}.${c}'`).join(' ')} END`;

const TRIGGER_NAMES = [
  'gateway_changes_credential_insert',
  'gateway_changes_credential_update',
  'gateway_changes_credential_delete',
  'gateway_changes_partner_update',
  'gateway_changes_partner_delete',
];

/** SQLite triggers (see the header for what Postgres needs instead). */
const TRIGGER_SQL = [
  `CREATE TRIGGER gateway_changes_credential_insert AFTER INSERT ON credentials
   BEGIN ${change('NEW.partner_id', 'NEW.key_id', `'credential.created'`)} END`,
  `CREATE TRIGGER gateway_changes_credential_update AFTER UPDATE OF ${credentialColumns.join(', ')} ON credentials
   WHEN ${changed(credentialColumns)}
   BEGIN ${change('NEW.partner_id', 'NEW.key_id', kindOf('credential', credentialColumns))} END`,
  `CREATE TRIGGER gateway_changes_credential_delete AFTER DELETE ON credentials
   BEGIN ${change('OLD.partner_id', 'OLD.key_id', `'credential.deleted'`)} END`,
  // a partner's change concerns every key it holds: key_id stays NULL
  `CREATE TRIGGER gateway_changes_partner_update AFTER UPDATE OF ${partnerColumns.join(', ')} ON partners
   WHEN ${changed(partnerColumns)}
   BEGIN ${change('NEW.id', 'NULL', kindOf('partner', partnerColumns))} END`,
  `CREATE TRIGGER gateway_changes_partner_delete AFTER DELETE ON partners
   BEGIN ${change('OLD.id', 'NULL', `'partner.deleted'`)} END`,
];
