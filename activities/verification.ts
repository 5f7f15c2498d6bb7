import { createProbeToken } from '../domain/probe-token.js';
import type { Db } from '../schema/db.js';
import { appendAuditEvent } from '../schema/repositories/audit.js';
import { credentialsOf } from '../schema/repositories/credentials.js';

export interface GatewayProbe {
  /** a URL behind the gateway that needs any scope, e.g. http://127.0.0.1:8080/orders/ */
  url: string;
  secret: string;
}

export interface VerificationResult {
  verified: boolean;
  /** per key: what the gateway answered */
  keys: { keyId: string; status: number | null; reason: string | null }[];
}

/**
 * Verified revocation: asks the real gateway path, for each of the partner's keys, whether it is
 * refused now. The answer goes to the audit trail; the caller alerts security when a key was not
 * refused. Without a configured gateway there is nothing to verify.
 */
export async function verifyRevocation(db: Db, probe: GatewayProbe | undefined, partnerId: string): Promise<VerificationResult | null> {
  if (!probe) return null;
  const keys = await credentialsOf(db, partnerId);
  const results: VerificationResult['keys'] = [];
  for (const { key_id: keyId } of keys) {
    try {
      const response = await fetch(probe.url, {
        headers: { 'x-api-key': createProbeToken(probe.secret, keyId) },
        redirect: 'manual',
        signal: AbortSignal.timeout(5000),
      });
      await response.body?.cancel();
      results.push({ keyId, status: response.status, reason: response.headers.get('x-auth-reason') });
    } catch (err) {
      results.push({ keyId, status: null, reason: `gateway unreachable: ${(err as Error).message}`.slice(0, 200) });
    }
  }
  // Refused means 401: anything else (a pass, a probe the gateway saw as active, no answer) is a failure.
  const verified = results.every((r) => r.status === 401);
  await appendAuditEvent(db, {
    eventKey: `${partnerId}:revocation-verified`,
    at: new Date().toISOString(),
    actor: 'system:gateway-verifier',
    action: verified ? 'revocation.verified' : 'revocation.verification_failed',
    partnerId,
    details: { gateway: probe.url, keys: results },
  });
  return { verified, keys: results };
}
