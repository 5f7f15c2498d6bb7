import { createHash, createHmac, hkdfSync } from 'node:crypto';
import type { Transaction } from 'kysely';
import { open, seal } from '../domain/sealed-box.js';
import type { Database, IdempotencyKeysTable } from '../schema/database.js';
import type { Db } from '../schema/db.js';

/**
 * How long an `Idempotency-Key` is remembered (Stripe keeps keys 24 h). A key older than this is
 * a new request, and its row is pruned by the API's periodic loop.
 */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * One caller's use of one key. The caller (`operator:<name>` or `source:<client address>`) and the
 * key are stored only as HMACs under a key derived from the data key: the table holds neither
 * client addresses (an unkeyed hash of an IPv4 address is reversed by trying all 2^32) nor the
 * keys themselves, which are what a replay proves possession of.
 */
export interface IdempotencyRef {
  scope: string;
  key: string;
  bodyHash: string;
  /** binds the sealed response to this caller and key */
  associatedData: string;
}

const derivedKeys = new WeakMap<Buffer, Buffer>();
function scopeKey(dataKey: Buffer): Buffer {
  let derived = derivedKeys.get(dataKey);
  if (!derived) {
    derived = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'partner-access idempotency scope', 32));
    derivedKeys.set(dataKey, derived);
  }
  return derived;
}

const mac = (dataKey: Buffer, text: string) => createHmac('sha256', scopeKey(dataKey)).update(text, 'utf8').digest('hex');

export function idempotencyRef(dataKey: Buffer, caller: string, key: string, body: unknown): IdempotencyRef {
  const scope = mac(dataKey, `scope\n${caller}`);
  const hashedKey = mac(dataKey, `key\n${key}`);
  return {
    scope,
    key: hashedKey,
    bodyHash: createHash('sha256').update(JSON.stringify(body)).digest('hex'),
    associatedData: `idempotency:${scope}:${hashedKey}`,
  };
}

const cutoff = (now: number) => new Date(now - IDEMPOTENCY_KEY_TTL_MS).toISOString();

/** The caller's earlier use of this key, if it has not expired. */
export async function findIdempotent(db: Db, ref: IdempotencyRef, now = Date.now()): Promise<IdempotencyKeysTable | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('scope', '=', ref.scope)
    .where('key', '=', ref.key)
    .where('created_at', '>=', cutoff(now))
    .executeTakeFirst();
}

/**
 * Records the key for a new submission inside its transaction. An expired row of the same key
 * (or one whose partner is gone) makes way; false when a live row exists, i.e. a concurrent
 * request with the same key committed first.
 */
export async function claimIdempotencyKey(
  trx: Transaction<Database>,
  ref: IdempotencyRef,
  dataKey: Buffer,
  record: { partnerId: string; response: unknown; at: string },
): Promise<boolean> {
  await trx
    .deleteFrom('idempotency_keys')
    .where('scope', '=', ref.scope)
    .where('key', '=', ref.key)
    .where((eb) => eb.or([eb('created_at', '<', cutoff(Date.parse(record.at))), eb('partner_id', 'not in', eb.selectFrom('partners').select('id'))]))
    .execute();
  const inserted = await trx
    .insertInto('idempotency_keys')
    .values({
      scope: ref.scope,
      key: ref.key,
      body_hash: ref.bodyHash,
      partner_id: record.partnerId,
      response: seal(dataKey, JSON.stringify(record.response), ref.associatedData),
      created_at: record.at,
    })
    .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export function openIdempotentResponse<T>(dataKey: Buffer, row: IdempotencyKeysTable, ref: IdempotencyRef): T {
  return JSON.parse(open(dataKey, row.response, ref.associatedData)) as T;
}

/** Deletes expired keys (run by the API's periodic loop); returns how many went. */
export async function pruneExpiredIdempotencyKeys(db: Db, now = Date.now()): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff(now)).executeTakeFirst();
  return Number(result.numDeletedRows);
}
