import { sql } from 'kysely';
import type { Db } from '../schema/db.js';
import type { PartnerRow } from '../schema/database.js';
import { hashesEqual } from '../domain/api-key.js';
import type { Principal } from './auth.js';
import { problems } from './problem.js';

const parseJson = <T>(value: string | null): T | null => (value === null ? null : (JSON.parse(value) as T));

/**
 * Loads the partner and checks the caller may see it: security, auditors and admins see every
 * partner; an approver sees those it sponsors (and, once escalated, requests waiting for any
 * approver); a partner sees itself. Anything else is a 404, so ids cannot be probed.
 */
export async function loadVisiblePartner(db: Db, principal: Principal, partnerId: string): Promise<PartnerRow> {
  const partner = await db.selectFrom('partners').selectAll().where('id', '=', partnerId).executeTakeFirst();
  if (principal.kind === 'anonymous') throw problems.unauthorized();
  if (!partner || !canSee(principal, partner)) throw problems.notFound('no such partner');
  return partner;
}

export function canSee(principal: Principal, partner: PartnerRow): boolean {
  switch (principal.kind) {
    case 'operator':
      if (principal.roles.some((r) => r === 'security' || r === 'auditor' || r === 'admin')) return true;
      if (!principal.roles.includes('approver')) return false;
      return (
        partner.sponsor === principal.name ||
        (partner.state === 'pending_approval' && partner.stage === 'sponsor' && partner.escalated === 1)
      );
    case 'request_token':
      return hashesEqual(partner.request_token_hash, principal.tokenHash);
    case 'partner_key':
      return principal.partnerId === partner.id;
    default:
      return false;
  }
}

/** SQL condition: the partner's scopes (a JSON array) contain exactly this scope. */
export const holdsScope = (scope: string) => sql<boolean>`scopes like ${`%"${scope.replace(/[\\%_]/g, (ch) => `\\${ch}`)}"%`} escape '\\'`;

export const partnerSummary = (p: PartnerRow) => ({
  partnerId: p.id,
  name: p.name,
  environment: p.environment,
  sponsor: p.sponsor,
  state: p.state,
  pendingStage: p.state === 'pending_approval' ? ((p.stage as 'sponsor' | 'security' | null) ?? 'sponsor') : null,
  scopes: JSON.parse(p.scopes) as string[],
  accessUntil: p.access_until,
  nextDeadline: p.next_deadline_at ? { at: p.next_deadline_at, action: p.next_deadline_action ?? '' } : null,
});

export async function partnerView(db: Db, partner: PartnerRow) {
  const credentials = await db
    .selectFrom('credentials')
    .select(['key_id', 'prefix', 'status', 'expires_at', 'retire_at', 'last_used_at'])
    .where('partner_id', '=', partner.id)
    .orderBy('version')
    .execute();
  return {
    ...partnerSummary(partner),
    escalated: partner.escalated === 1,
    rateLimitTier: partner.rate_limit_tier,
    policyVersion: partner.policy_version,
    recertificationCycle: partner.recert_cycle,
    lastCertifiedAt: partner.last_certified_at,
    pendingExtension: parseJson<{ accessUntil: string; reason: string; requestedAt: string }>(partner.pending_extension),
    plannedOffboarding: parseJson<{ at: string; reason: string; by: string }>(partner.planned_offboarding),
    endReason: partner.end_reason,
    credentials: credentials.map((k) => ({
      keyId: k.key_id,
      prefix: k.prefix,
      status: k.status,
      expiresAt: k.expires_at,
      retireAt: k.retire_at,
      lastUsedAt: k.last_used_at,
    })),
    createdAt: partner.created_at,
    updatedAt: partner.updated_at,
  };
}
