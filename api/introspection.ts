import type { Policy } from '../config/policy.js';
import { hashApiKey, hashesEqual, parseApiKey } from '../domain/api-key.js';
import { keyLiveness, type KeyDeadReason } from '../domain/key-liveness.js';
import type { Environment } from '../domain/partner-states.js';
import type { Db } from '../schema/db.js';
import { credentialForVerdict, type CredentialVerdictRow } from '../schema/repositories/credentials.js';

export type Introspection =
  | {
      active: true;
      partnerId: string;
      environment: Environment;
      scopes: string[];
      rateLimit: { tier: string; requests: number; windowSeconds: number };
      expiresAt: string;
    }
  | { active: false; reason: 'malformed' | 'bad_checksum' | 'unknown' | KeyDeadReason };

/**
 * Is this key good for traffic right now? The checksum is checked before any query; then one
 * indexed lookup by key id, a constant-time hash comparison, and every condition checked on each
 * call (status, expiry, retirement, partner state), so a late timer never keeps a key alive.
 * Never touches Temporal.
 */
export async function introspect(db: Db, policy: Policy, token: string, environment?: Environment, now = new Date()): Promise<Introspection> {
  return keyVerdict(db, policy, token, environment, now);
}

/** `introspect`, without a promise where the lookup needs none (SQLite's read connection): for introspection's lean path, which awaits only what must wait. */
export function keyVerdict(db: Db, policy: Policy, token: string, environment?: Environment, now = new Date()): MaybePromise<Introspection> {
  return andThen(presentedKey(db, token), (found) => ('reason' in found ? { active: false, reason: found.reason } : verdict(found.row, policy, environment, now)));
}

type MaybePromise<T> = T | Promise<T>;
const andThen = <T, U>(value: MaybePromise<T>, next: (value: T) => U): MaybePromise<U> => (value instanceof Promise ? value.then(next) : next(value));

type PresentedKey = { row: CredentialVerdictRow; keyId: string } | { reason: 'malformed' | 'bad_checksum' | 'unknown' | 'wrong_environment' };

/**
 * The key a caller presents, if it is one of ours: checksum before any query, one indexed lookup
 * by key id, a constant-time comparison of hashes (against a dummy when the id is unknown, so both
 * paths cost the same), and the key's own environment. Whether it is live is `keyLivenessOf`.
 */
function presentedKey(db: Db, token: string): MaybePromise<PresentedKey> {
  const parsed = parseApiKey(token);
  if (!parsed.ok) return { reason: parsed.reason };
  return andThen(credentialForVerdict(db, parsed.keyId), (row): PresentedKey => {
    const matches = hashesEqual(row?.hash ?? '0'.repeat(64), hashApiKey(token));
    if (!row || !matches) return { reason: 'unknown' };
    if (row.environment !== parsed.environment) return { reason: 'wrong_environment' };
    return { row, keyId: parsed.keyId };
  });
}

/** The partner and key a live API key proves (partner-key authentication of the API), else undefined. */
export async function liveKeyOwner(db: Db, token: string, now = new Date()): Promise<{ partnerId: string; keyId: string } | undefined> {
  const found = await presentedKey(db, token);
  if ('reason' in found || !keyLivenessOf(found.row, now).live) return undefined;
  return { partnerId: found.row.partner_id, keyId: found.keyId };
}

/**
 * The partner a key still proves, from its id and the hash of the whole key (a portal session's
 * credential: the environment was checked when the key was presented at sign-in).
 */
export async function liveKeyByHash(db: Db, keyId: string, keyHash: string, now = new Date()): Promise<{ partnerId: string; keyId: string } | undefined> {
  const row = await credentialForVerdict(db, keyId);
  if (!row || !hashesEqual(row.hash, keyHash) || !keyLivenessOf(row, now).live) return undefined;
  return { partnerId: row.partner_id, keyId };
}

/** The verdict for a key id without its secret: only for revocation probes, which never pass. */
export async function introspectKeyId(db: Db, policy: Policy, keyId: string, environment?: Environment, now = new Date()): Promise<Introspection> {
  const row = await credentialForVerdict(db, keyId);
  return row ? verdict(row, policy, environment, now) : { active: false, reason: 'unknown' };
}

/** Every condition, on every call (domain/key-liveness.ts), then what the gateway needs to serve the key. */
export const keyLivenessOf = (row: CredentialVerdictRow, now: Date, environment?: Environment) =>
  keyLiveness({ status: row.status, expiresAt: row.expires_at, retireAt: row.retire_at, environment: row.environment, partnerState: row.state }, now, environment);

function verdict(row: CredentialVerdictRow, policy: Policy, environment: Environment | undefined, now: Date): Introspection {
  const liveness = keyLivenessOf(row, now, environment);
  if (!liveness.live) return { active: false, reason: liveness.reason };
  const tiers = policy.environments[row.environment].rateLimitTiers;
  const tier = tiers[row.rate_limit_tier] ?? tiers[policy.environments[row.environment].defaultRateLimitTier]!;
  return {
    active: true,
    partnerId: row.partner_id,
    environment: row.environment,
    scopes: JSON.parse(row.scopes) as string[],
    rateLimit: { tier: row.rate_limit_tier, requests: tier.requests, windowSeconds: tier.window / 1000 },
    expiresAt: row.retire_at !== null && row.retire_at < row.expires_at ? row.retire_at : row.expires_at,
  };
}
