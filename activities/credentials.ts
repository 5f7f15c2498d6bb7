import { ApplicationFailure } from '@temporalio/common';
import { generateApiKey, hashApiKey } from '../domain/api-key.js';
import { seal } from '../domain/sealed-box.js';
import type { Db } from '../schema/db.js';
import { terminalStates } from '../domain/partner-states.js';
import { appendAudit } from '../schema/repositories/audit.js';
import type { IssueCredentialInput, IssuedCredential, PartnerEndedFailure, UsageEvidence } from './types.js';

/**
 * Creates the partner's key number `version`: stores only its SHA-256, a display prefix and a
 * sealed one-time pickup copy, and returns ids. The plaintext lives in this function's locals only.
 * Idempotent on (partner, version): a retry returns the key the first attempt stored.
 */
export async function issueCredential(db: Db, pickupKey: Buffer, input: IssueCredentialInput): Promise<IssuedCredential> {
  const existing = await db
    .selectFrom('credentials')
    .select(['key_id', 'prefix', 'expires_at'])
    .where('partner_id', '=', input.partnerId)
    .where('version', '=', input.version)
    .executeTakeFirst();
  if (existing) return { keyId: existing.key_id, prefix: existing.prefix, expiresAt: existing.expires_at };

  const { apiKey, keyId, prefix } = generateApiKey(input.environment);
  const now = new Date().toISOString();
  return db.transaction().execute(async (trx) => {
    // Checked under the write lock (begin immediate): a revocation commits before or after this
    // whole transaction, so a key is either refused here or revoked by it.
    const partner = await trx.selectFrom('partners').select('state').where('id', '=', input.partnerId).executeTakeFirstOrThrow();
    if (terminalStates.includes(partner.state)) {
      const type: PartnerEndedFailure = 'PartnerEnded';
      throw ApplicationFailure.create({ type, message: `no key for a partner in state ${partner.state}`, nonRetryable: true });
    }
    await appendAudit(trx, {
      eventKey: `${input.partnerId}:credential${input.version}`,
      at: now,
      actor: input.actor,
      action: 'credential.issued',
      partnerId: input.partnerId,
      details: { keyId, prefix, version: input.version, expiresAt: input.expiresAt, purpose: input.purpose },
    });
    await trx
      .insertInto('credentials')
      .values({
        key_id: keyId,
        partner_id: input.partnerId,
        version: input.version,
        hash: hashApiKey(apiKey),
        prefix,
        environment: input.environment,
        status: 'active',
        created_at: now,
        expires_at: input.expiresAt,
        retire_at: null,
        last_used_at: null,
        revoked_at: null,
        revoke_reason: null,
      })
      .execute();
    await trx
      .insertInto('credential_pickups')
      .values({ key_id: keyId, partner_id: input.partnerId, sealed: seal(pickupKey, apiKey, keyId), created_at: now, picked_up_at: null })
      .execute();
    return { keyId, prefix, expiresAt: input.expiresAt };
  });
}

/** What the reviewer sees at recertification: last use per key, scopes used and never used. */
export async function gatherUsageEvidence(db: Db, partnerId: string): Promise<UsageEvidence> {
  const partner = await db.selectFrom('partners').select('scopes').where('id', '=', partnerId).executeTakeFirstOrThrow();
  const keys = await db
    .selectFrom('credentials')
    .select(['key_id', 'prefix', 'last_used_at'])
    .where('partner_id', '=', partnerId)
    .orderBy('version')
    .execute();
  const used = await db
    .selectFrom('usage_counters')
    .innerJoin('credentials', 'credentials.key_id', 'usage_counters.key_id')
    .select('usage_counters.scope')
    .distinct()
    .where('credentials.partner_id', '=', partnerId)
    .execute();
  const scopes: string[] = JSON.parse(partner.scopes);
  const scopesUsed = used.map((u) => u.scope).filter((scope) => scopes.includes(scope));
  return {
    keys: keys.map((k) => ({ keyId: k.key_id, prefix: k.prefix, lastUsedAt: k.last_used_at })),
    scopesUsed,
    scopesNeverUsed: scopes.filter((scope) => !scopesUsed.includes(scope)),
  };
}
