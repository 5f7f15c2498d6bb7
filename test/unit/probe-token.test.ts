import { describe, expect, it } from 'vitest';
import { createProbeToken, verifyProbeToken } from '../../domain/probe-token.js';

const secret = 'probe-secret-0123456789abcdef0123456789';
const keyId = 'AbCdEfGhIjKlMnOp';

describe('revocation probe tokens', () => {
  it('carry a key id, signed and short-lived', () => {
    const now = Date.now();
    const token = createProbeToken(secret, keyId, now);
    expect(token).toMatch(/^pap_AbCdEfGhIjKlMnOp_\d{10}_[0-9a-f]{64}$/);
    expect(verifyProbeToken(secret, token, now)).toBe(keyId);
    expect(verifyProbeToken(secret, token, now + 61_000)).toBeUndefined();
  });

  it('refuse another secret, another key id, or any tampering', () => {
    const token = createProbeToken(secret, keyId);
    expect(verifyProbeToken(`${secret}x`, token)).toBeUndefined();
    expect(verifyProbeToken(secret, token.replace(keyId, 'ZZZZZZZZZZZZZZZZ'))).toBeUndefined();
    expect(verifyProbeToken(secret, `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`)).toBeUndefined();
    expect(verifyProbeToken(secret, 'pap_nope')).toBeUndefined();
  });
});
