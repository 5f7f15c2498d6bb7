import { sql, type Kysely } from 'kysely';
import { autoIncrementPrimaryKey, dialectOf } from '../dialect.js';

/**
 * The gateways' change feed (issue #14): every change that can alter a key's verdict at the edge
 * becomes a row of `gateway_changes`, written by triggers in the same transaction as the change,
 * so every writer (workflow activities, the API, an operator's SQL, writers not yet written) emits
 * it without application code, and every API process serves the same feed from the database.
 * `seq` is the gateways' cursor: AUTOINCREMENT never reuses a number, even after pruning.
 *
 * SQLite serialises writers, so `seq` order is commit order: a gateway that read up to `seq` N has
 * seen every change committed before N's. Postgres (issue #13) has its own version below
 * (POSTGRES_TRIGGER_SQL): plpgsql trigger functions, and a lock held to commit, taken by a
 * statement trigger before the statement's rows are written, so that seq order equals commit
 * order (a sequence alone hands out numbers in insertion order, and a later number can commit
 * first, which a cursor would then skip).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('gateway_changes')
    .addColumn('seq', 'integer', autoIncrementPrimaryKey(db))
    .addColumn('partner_id', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  // pruning by age (the feed itself reads by seq, the primary key)
  await db.schema.createIndex('gateway_changes_at_idx').on('gateway_changes').column('at').execute();
  const postgres = dialectOf(db) === 'postgres';
  for (const statement of postgres ? POSTGRES_TRIGGER_SQL : TRIGGER_SQL) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) === 'postgres') {
    for (const [name, table] of POSTGRES_TRIGGERS) await sql.raw(`DROP TRIGGER IF EXISTS ${name} ON ${table}`).execute(db);
    for (const name of POSTGRES_FUNCTIONS) await sql.raw(`DROP FUNCTION IF EXISTS ${name}()`).execute(db);
  } else {
    for (const name of TRIGGER_NAMES) await sql.raw(`DROP TRIGGER IF EXISTS ${name}`).execute(db);
  }
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

// Postgres: the same triggers as plpgsql functions (NULL-safe comparison is IS DISTINCT FROM there).
const PG_NOW = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const pgChange = (partner: string, key: string, kind: string) =>
  `INSERT INTO gateway_changes (partner_id, key_id, kind, at) VALUES (${partner}, ${key}, ${kind}, ${PG_NOW});`;
const pgChanged = (columns: string[]) => columns.map((c) => `OLD.${c} IS DISTINCT FROM NEW.${c}`).join(' OR ');
const pgKindOf = (table: string, columns: string[]) =>
  `CASE ${columns.map((c) => `WHEN OLD.${c} IS DISTINCT FROM NEW.${c} THEN '${table}.${c}'`).join(' ')} END`;
const pgFunction = (name: string, body: string) =>
  `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${body} RETURN NULL; END $$`;
/**
 * Every statement that can write a change first locks the audit chain's head row and holds it to
 * commit: two such transactions write their changes one after the other, so a lower seq is never
 * committed after a higher one. The audit head and not a lock of the feed's own: every transaction
 * that changes a verdict (transition, revocation, issuance) appends an audit event too, some before
 * their feed writes and some after, and two global locks taken in either order would deadlock
 * (one holding the head and waiting for the feed's lock, the other the reverse); with one lock
 * there is no order to get wrong. Taken by a statement trigger, before the statement's rows, so a
 * statement never waits for it while holding rows the holder needs. The cost: these writes commit
 * one at a time, as every SQLite write does; reads are not affected.
 */
const POSTGRES_TRIGGER_SQL = [
  pgFunction('gateway_changes_commit_order', `PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE;`),
  `CREATE TRIGGER gateway_changes_order_credentials BEFORE INSERT OR DELETE OR UPDATE OF ${credentialColumns.join(', ')} ON credentials
   FOR EACH STATEMENT EXECUTE FUNCTION gateway_changes_commit_order()`,
  `CREATE TRIGGER gateway_changes_order_partners BEFORE DELETE OR UPDATE OF ${partnerColumns.join(', ')} ON partners
   FOR EACH STATEMENT EXECUTE FUNCTION gateway_changes_commit_order()`,
  pgFunction('gateway_changes_credential_insert', pgChange('NEW.partner_id', 'NEW.key_id', `'credential.created'`)),
  `CREATE TRIGGER gateway_changes_credential_insert AFTER INSERT ON credentials
   FOR EACH ROW EXECUTE FUNCTION gateway_changes_credential_insert()`,
  pgFunction('gateway_changes_credential_update', pgChange('NEW.partner_id', 'NEW.key_id', pgKindOf('credential', credentialColumns))),
  `CREATE TRIGGER gateway_changes_credential_update AFTER UPDATE OF ${credentialColumns.join(', ')} ON credentials
   FOR EACH ROW WHEN (${pgChanged(credentialColumns)}) EXECUTE FUNCTION gateway_changes_credential_update()`,
  pgFunction('gateway_changes_credential_delete', pgChange('OLD.partner_id', 'OLD.key_id', `'credential.deleted'`)),
  `CREATE TRIGGER gateway_changes_credential_delete AFTER DELETE ON credentials
   FOR EACH ROW EXECUTE FUNCTION gateway_changes_credential_delete()`,
  pgFunction('gateway_changes_partner_update', pgChange('NEW.id', 'NULL', pgKindOf('partner', partnerColumns))),
  `CREATE TRIGGER gateway_changes_partner_update AFTER UPDATE OF ${partnerColumns.join(', ')} ON partners
   FOR EACH ROW WHEN (${pgChanged(partnerColumns)}) EXECUTE FUNCTION gateway_changes_partner_update()`,
  pgFunction('gateway_changes_partner_delete', pgChange('OLD.id', 'NULL', `'partner.deleted'`)),
  `CREATE TRIGGER gateway_changes_partner_delete AFTER DELETE ON partners
   FOR EACH ROW EXECUTE FUNCTION gateway_changes_partner_delete()`,
];

const POSTGRES_TRIGGERS: [string, string][] = [
  ['gateway_changes_order_credentials', 'credentials'],
  ['gateway_changes_order_partners', 'partners'],
  ['gateway_changes_credential_insert', 'credentials'],
  ['gateway_changes_credential_update', 'credentials'],
  ['gateway_changes_credential_delete', 'credentials'],
  ['gateway_changes_partner_update', 'partners'],
  ['gateway_changes_partner_delete', 'partners'],
];
const POSTGRES_FUNCTIONS = ['gateway_changes_commit_order', ...TRIGGER_NAMES];
