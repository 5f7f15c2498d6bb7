import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { open, seal } from '../domain/sealed-box.js';
import type { IdempotencyKeysTable } from '../schema/database.js';
import type { Db } from '../schema/db.js';
import { findIdempotencyRecord, type IdempotencyClaim } from '../schema/repositories/idempotency.js';

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

/** The caller's earlier use of this key, if it has not expired. */
export function findIdempotent(db: Db, ref: IdempotencyRef, now = Date.now()): Promise<IdempotencyKeysTable | undefined> {
  return findIdempotencyRecord(db, ref.scope, ref.key, now);
}

/** What `recordSubmission` stores for this key: the response sealed to this caller and key. */
export function idempotencyClaim(dataKey: Buffer, ref: IdempotencyRef, record: { partnerId: string; response: unknown; at: string }): IdempotencyClaim {
  return {
    scope: ref.scope,
    key: ref.key,
    bodyHash: ref.bodyHash,
    partnerId: record.partnerId,
    sealedResponse: seal(dataKey, JSON.stringify(record.response), ref.associatedData),
    at: record.at,
  };
}

export function openIdempotentResponse<T>(dataKey: Buffer, row: IdempotencyKeysTable, ref: IdempotencyRef): T {
  return JSON.parse(open(dataKey, row.response, ref.associatedData)) as T;
}
