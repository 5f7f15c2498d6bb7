import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Revocation probes: after a revocation the worker asks the real gateway path whether a revoked
 * key id is refused. It holds no plaintext key (none is ever stored), so it presents a probe
 * token `pap_<keyId>_<expires>_<mac>` signed with a secret shared with the API. The gateway auth
 * endpoint answers a probe with the key's verdict but never lets it through.
 */
const PATTERN = /^pap_([0-9A-Za-z]{16})_(\d{10})_([0-9a-f]{64})$/;

const mac = (secret: string, keyId: string, expires: number) => createHmac('sha256', secret).update(`probe.${keyId}.${expires}`).digest('hex');

export function createProbeToken(secret: string, keyId: string, now = Date.now(), ttlSeconds = 60): string {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  return `pap_${keyId}_${expires}_${mac(secret, keyId, expires)}`;
}

/** The key id a valid, unexpired probe asks about; undefined for anything else. */
export function verifyProbeToken(secret: string, token: string, now = Date.now()): string | undefined {
  const match = PATTERN.exec(token);
  if (!match) return undefined;
  const [, keyId, expiresText, given] = match as unknown as [string, string, string, string];
  const expires = Number(expiresText);
  if (expires * 1000 < now) return undefined;
  const expected = Buffer.from(mac(secret, keyId, expires), 'hex');
  return timingSafeEqual(expected, Buffer.from(given, 'hex')) ? keyId : undefined;
}
