import { ApplicationFailure } from '@temporalio/common';
import { generateApiKey, hashApiKey } from '../domain/api-key.js';
import { seal } from '../domain/sealed-box.js';
import type { Db } from '../schema/db.js';
import { issuedVersion, recordIssuedCredential } from '../schema/repositories/credentials.js';
import { findPartner } from '../schema/repositories/partners.js';
import { usageEvidenceOf } from '../schema/repositories/usage.js';
import type { IssueCredentialInput, IssuedCredential, PartnerEndedFailure, UsageEvidence } from '../domain/lifecycle-records.js';

/**
 * Creates the partner's key number `version`: stores only its SHA-256, a display prefix and a
 * sealed one-time pickup copy, and returns ids. The plaintext lives in this function's locals only.
 * Idempotent on (partner, version): a retry returns the key the first attempt stored.
 */
export async function issueCredential(db: Db, pickupKey: Buffer, input: IssueCredentialInput): Promise<IssuedCredential> {
  const existing = await issuedVersion(db, input.partnerId, input.version);
  if (existing) return existing;

  const { apiKey, keyId, prefix } = generateApiKey(input.environment);
  const now = new Date().toISOString();
  const stored = await recordIssuedCredential(db, {
    keyId,
    partnerId: input.partnerId,
    version: input.version,
    hash: hashApiKey(apiKey),
    prefix,
    environment: input.environment,
    expiresAt: input.expiresAt,
    sealed: seal(pickupKey, apiKey, keyId),
    purpose: input.purpose,
    at: now,
    audit: {
      eventKey: `${input.partnerId}:credential${input.version}`,
      at: now,
      actor: input.actor,
      action: 'credential.issued',
      partnerId: input.partnerId,
      details: { keyId, prefix, version: input.version, expiresAt: input.expiresAt, purpose: input.purpose },
    },
  });
  if (!stored.issued) {
    // The API revoked the partner under the workflow: no retry can issue this key.
    const type: PartnerEndedFailure = 'PartnerEnded';
    throw ApplicationFailure.create({ type, message: `no key for a partner in state ${stored.partnerState}`, nonRetryable: true });
  }
  return { keyId, prefix, expiresAt: input.expiresAt };
}

/** What the reviewer sees at recertification: last use per key, scopes used and never used this cycle. */
export async function gatherUsageEvidence(db: Db, partnerId: string): Promise<UsageEvidence> {
  const partner = await findPartner(db, partnerId);
  if (!partner) throw ApplicationFailure.create({ type: 'PartnerMissing', message: `no partner row ${partnerId}`, nonRetryable: true });
  return usageEvidenceOf(db, partner);
}
