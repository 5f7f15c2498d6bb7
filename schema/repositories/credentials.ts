import type { Database as SQLiteDatabase, Statement } from 'better-sqlite3';
import { sql, type CompiledQuery } from 'kysely';
import type { Environment, PartnerState } from '../../domain/partner-states.js';
import { isTerminal } from '../../domain/partner-states.js';
import type { CredentialsTable, PickupPurpose } from '../database.js';
import { sqliteReader, type Db } from '../db.js';
import { ReadBatcher, sharesReads } from '../read-batcher.js';
import { lockForUpdate } from '../dialect.js';
import { appendAudit, type AuditEventInput } from './audit.js';

/**
 * API keys (stored as SHA-256, a display prefix and a one-time sealed pickup copy) and their
 * pickups. Revocation, retirement and expiry changes are lifecycle writes (lifecycle.ts).
 */

/** What a verdict on a key needs: the key's own record and its partner's (introspection, the gateway, partner-key authentication). */
const verdictQuery = (db: Db, keyId: string) => verdictColumns(db).where('credentials.key_id', '=', keyId);

/** The same for several keys in one statement (Postgres: `= any` of one array parameter, so it compiles once). */
const verdictsQuery = (db: Db, keyIds: string[]) =>
  verdictColumns(db)
    .select('credentials.key_id')
    .where(sql<boolean>`${sql.ref('credentials.key_id')} = any(${keyIds})`);

const verdictColumns = (db: Db) =>
  db
    .selectFrom('credentials')
    .innerJoin('partners', 'partners.id', 'credentials.partner_id')
    .select([
      'credentials.hash',
      'credentials.status',
      'credentials.expires_at',
      'credentials.retire_at',
      'credentials.environment',
      'partners.id as partner_id',
      'partners.state',
      'partners.scopes',
      'partners.rate_limit_tier',
    ]);

/**
 * The hottest query there is (every introspection, and every gateway check the edge cannot answer
 * from its cache): built and compiled once per database, then only its one parameter changes. On
 * SQLite it runs as a prepared statement on the read connection (schema/db.ts `sqliteReader`),
 * synchronously; on Postgres as the compiled query. Building, compiling and queueing it through
 * Kysely per call was a tenth of introspection's CPU (profiled, bench/README.md).
 */
interface VerdictQuery {
  compiled: CompiledQuery<CredentialVerdictRow>;
  sqlite?: SqliteVerdictRows;
  /** Postgres: concurrent questions share a read started after each of them (schema/read-batcher.ts) */
  batched?: ReadBatcher<string, CredentialVerdictRow>;
}
const verdictQueries = new WeakMap<Db, VerdictQuery>();

function verdictQueryOf(db: Db): VerdictQuery {
  let prepared = verdictQueries.get(db);
  if (!prepared) {
    const compiled = verdictQuery(db, '').compile();
    if (compiled.parameters.length !== 1) throw new Error('credentialForVerdict: expected one parameter, the key id');
    const reader = sqliteReader(db);
    prepared = { compiled, sqlite: reader && new SqliteVerdictRows(reader, compiled.sql) };
    // (a SQLite database opened without its read connection asks one key at a time)
    if (sharesReads(db)) {
      const many = verdictsQuery(db, []).compile();
      if (many.parameters.length !== 1) throw new Error('credentialForVerdict: expected one parameter, the key ids');
      prepared.batched = new ReadBatcher(async (keyIds) => {
        const { rows } = await db.executeQuery<CredentialVerdictRow & { key_id: string }>({ ...many, parameters: [keyIds] });
        return new Map(rows.map(({ key_id, ...row }) => [key_id, row]));
      });
    }
    verdictQueries.set(db, prepared);
  }
  return prepared;
}

/**
 * On SQLite, the rows the statement gave, kept only while the database file has not changed:
 * before every use, `PRAGMA data_version` on the read connection says whether any other connection
 * (this process's writer, the worker, another API process) has committed since, and any commit at
 * all drops every kept row. So a revocation, a suspension or a rotation is read on the first
 * question after its commit, which is before its own answer; the kept row is the one the query
 * would return, and the rules (expiry, retirement, partner state) are still applied to it on every
 * call (api/introspection.ts). What this saves: the pragma costs about a quarter of the query, which
 * joins two tables and builds a row (measured, bench/README.md "Issue #14's remainder").
 */
class SqliteVerdictRows {
  private readonly statement: Statement<[string], CredentialVerdictRow>;
  private readonly dataVersion: Statement<[], number>;
  private version: number | undefined;
  private readonly rows = new Map<string, Readonly<CredentialVerdictRow>>();

  constructor(
    reader: SQLiteDatabase,
    sql: string,
    private readonly maxRows = 10_000,
  ) {
    this.statement = reader.prepare<[string], CredentialVerdictRow>(sql);
    this.dataVersion = reader.prepare<[], number>('pragma data_version').pluck();
  }

  get(keyId: string): Readonly<CredentialVerdictRow> | undefined {
    const version = this.dataVersion.get();
    if (version !== this.version) {
      this.rows.clear();
      this.version = version;
    }
    const kept = this.rows.get(keyId);
    if (kept) return kept;
    const row = this.statement.get(keyId);
    // only keys that exist: ids nobody holds (guesses) are not worth the memory
    if (row) {
      if (this.rows.size >= this.maxRows) this.rows.clear();
      this.rows.set(keyId, Object.freeze(row));
    }
    return row;
  }
}

/** The key's verdict row: at once on SQLite, a promise on Postgres (callers that do not mind simply await it). */
export function credentialForVerdict(db: Db, keyId: string): Readonly<CredentialVerdictRow> | undefined | Promise<CredentialVerdictRow | undefined> {
  const { compiled, sqlite, batched } = verdictQueryOf(db);
  if (sqlite) return sqlite.get(keyId);
  if (batched) return batched.get(keyId);
  return db.executeQuery<CredentialVerdictRow>({ ...compiled, parameters: [keyId] }).then(({ rows }) => rows[0]);
}

export type CredentialVerdictRow = NonNullable<Awaited<ReturnType<ReturnType<typeof verdictQuery>['executeTakeFirst']>>>;

/** A partner's keys, oldest first, without their hashes. */
export function credentialsOf(
  db: Db,
  partnerId: string,
): Promise<Pick<CredentialsTable, 'key_id' | 'prefix' | 'status' | 'created_at' | 'expires_at' | 'retire_at' | 'last_used_at'>[]> {
  return db
    .selectFrom('credentials')
    .select(['key_id', 'prefix', 'status', 'created_at', 'expires_at', 'retire_at', 'last_used_at'])
    .where('partner_id', '=', partnerId)
    .orderBy('version')
    .execute();
}

export interface IssuedRecord {
  keyId: string;
  prefix: string;
  expiresAt: string;
}

/** The partner's key number `version`, if it was issued (issuance is idempotent on it). */
export async function issuedVersion(db: Db, partnerId: string, version: number): Promise<IssuedRecord | undefined> {
  const row = await db
    .selectFrom('credentials')
    .select(['key_id', 'prefix', 'expires_at'])
    .where('partner_id', '=', partnerId)
    .where('version', '=', version)
    .executeTakeFirst();
  return row && { keyId: row.key_id, prefix: row.prefix, expiresAt: row.expires_at };
}

export interface NewCredential {
  keyId: string;
  partnerId: string;
  version: number;
  hash: string;
  prefix: string;
  environment: Environment;
  expiresAt: string;
  /** the plaintext sealed to the key id, for one pickup */
  sealed: string;
  purpose: PickupPurpose;
  at: string;
  audit: AuditEventInput;
}

/**
 * Stores a new key, its pickup copy and its audit event in one transaction, unless the partner has
 * ended: checked with the partner's row locked (SQLite's `begin immediate`, Postgres's `for
 * update`; schema/dialect.ts), so a revocation commits before or after this whole transaction and
 * a key is either refused here or revoked by it. Locks are taken partner row first, audit head
 * second, in every transaction, so two of them never wait on each other in a circle.
 */
export function recordIssuedCredential(db: Db, key: NewCredential): Promise<{ issued: true } | { issued: false; partnerState: PartnerState }> {
  return db.transaction().execute(async (trx) => {
    const partner = await lockForUpdate(trx, trx.selectFrom('partners').select('state').where('id', '=', key.partnerId)).executeTakeFirstOrThrow();
    if (isTerminal(partner.state)) return { issued: false as const, partnerState: partner.state };
    await appendAudit(trx, key.audit);
    await trx
      .insertInto('credentials')
      .values({
        key_id: key.keyId,
        partner_id: key.partnerId,
        version: key.version,
        hash: key.hash,
        prefix: key.prefix,
        environment: key.environment,
        status: 'active',
        created_at: key.at,
        expires_at: key.expiresAt,
        retire_at: null,
        last_used_at: null,
        revoked_at: null,
        revoke_reason: null,
      })
      .execute();
    await trx
      .insertInto('credential_pickups')
      .values({ key_id: key.keyId, partner_id: key.partnerId, sealed: key.sealed, purpose: key.purpose, created_at: key.at, picked_up_at: null })
      .execute();
    return { issued: true as const };
  });
}

/** The partner's pickup copies of one purpose, newest key first; `sealed` is null once picked up or wiped. */
export function pickupsOf(db: Db, partnerId: string, purpose: PickupPurpose): Promise<{ key_id: string; sealed: string | null }[]> {
  return db
    .selectFrom('credential_pickups')
    .innerJoin('credentials', 'credentials.key_id', 'credential_pickups.key_id')
    .select(['credential_pickups.key_id', 'credential_pickups.sealed'])
    .where('credential_pickups.partner_id', '=', partnerId)
    .where('credential_pickups.purpose', '=', purpose)
    .orderBy('credentials.version', 'desc')
    .execute();
}

/**
 * Takes the one-time copy of a key issued for `purpose`: the first caller gets the sealed
 * plaintext, the copy is wiped in the same transaction, every later caller (and any caller asking
 * for another purpose) gets nothing.
 */
export function claimPickup(db: Db, keyId: string, purpose: PickupPurpose, at: string): Promise<{ sealed: string; expiresAt: string } | undefined> {
  return db.transaction().execute(async (trx) => {
    const claimed = await trx
      .updateTable('credential_pickups')
      .set({ picked_up_at: at })
      .where('key_id', '=', keyId)
      .where('purpose', '=', purpose)
      .where('picked_up_at', 'is', null)
      .where('sealed', 'is not', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return undefined;
    const row = await trx
      .selectFrom('credential_pickups')
      .innerJoin('credentials', 'credentials.key_id', 'credential_pickups.key_id')
      .select(['credential_pickups.sealed', 'credential_pickups.partner_id', 'credentials.expires_at'])
      .where('credential_pickups.key_id', '=', keyId)
      .executeTakeFirstOrThrow();
    await trx.updateTable('credential_pickups').set({ sealed: null }).where('key_id', '=', keyId).execute();
    // who took the one copy and when is evidence (issue #16 item 7): the key id, never the key
    await appendAudit(trx, {
      eventKey: `pickup:${keyId}`,
      at,
      actor: `partner:${row.partner_id}`,
      action: 'credential.picked_up',
      partnerId: row.partner_id,
      details: { keyId, purpose },
    });
    return { sealed: row.sealed!, expiresAt: row.expires_at };
  });
}
