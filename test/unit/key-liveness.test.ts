import { describe, expect, it } from 'vitest';
import { keyLiveness, type KeyFacts } from '../../domain/key-liveness.js';
import { partnerStates } from '../../domain/partner-states.js';

const now = new Date('2027-01-01T12:00:00.000Z');
const key = (over: Partial<KeyFacts> = {}): KeyFacts => ({
  status: 'active',
  expiresAt: '2027-06-01T00:00:00.000Z',
  retireAt: null,
  environment: 'sandbox',
  partnerState: 'active',
  ...over,
});

describe('keyLiveness: when a key stops being accepted', () => {
  it('an active key of an active or recertification-due partner, before expiry, is live', () => {
    expect(keyLiveness(key(), now)).toEqual({ live: true });
    expect(keyLiveness(key({ partnerState: 'recertification_due' }), now)).toEqual({ live: true });
    expect(keyLiveness(key({ retireAt: '2027-01-01T12:00:00.001Z' }), now)).toEqual({ live: true });
    expect(keyLiveness(key(), now, 'sandbox')).toEqual({ live: true });
  });

  it('revoked: the key, or its partner revoked or offboarded', () => {
    expect(keyLiveness(key({ status: 'revoked' }), now)).toEqual({ live: false, reason: 'revoked' });
    expect(keyLiveness(key({ partnerState: 'revoked' }), now)).toEqual({ live: false, reason: 'revoked' });
    expect(keyLiveness(key({ partnerState: 'offboarded' }), now)).toEqual({ live: false, reason: 'revoked' });
  });

  it('expired: at or after its expiry or its retirement (a late timer keeps nothing alive)', () => {
    expect(keyLiveness(key({ expiresAt: now.toISOString() }), now)).toEqual({ live: false, reason: 'expired' });
    expect(keyLiveness(key({ expiresAt: '2026-12-31T00:00:00.000Z' }), now)).toEqual({ live: false, reason: 'expired' });
    expect(keyLiveness(key({ retireAt: now.toISOString() }), now)).toEqual({ live: false, reason: 'expired' });
  });

  it('suspended: a suspended partner keeps its keys but they are refused', () => {
    expect(keyLiveness(key({ partnerState: 'suspended' }), now)).toEqual({ live: false, reason: 'suspended' });
  });

  it('not_active: any other partner state', () => {
    for (const state of ['pending_approval', 'rejected', 'request_expired'] as const) {
      expect(keyLiveness(key({ partnerState: state }), now)).toEqual({ live: false, reason: 'not_active' });
    }
  });

  it('wrong_environment: a key is only good in its own environment', () => {
    expect(keyLiveness(key(), now, 'production')).toEqual({ live: false, reason: 'wrong_environment' });
    expect(keyLiveness(key({ environment: 'production' }), now, 'production')).toEqual({ live: true });
  });

  it('the order of the checks decides the reason: revoked before expired before state before environment', () => {
    expect(keyLiveness(key({ status: 'revoked', expiresAt: '2026-01-01T00:00:00.000Z' }), now)).toEqual({ live: false, reason: 'revoked' });
    expect(keyLiveness(key({ partnerState: 'suspended', expiresAt: '2026-01-01T00:00:00.000Z' }), now)).toEqual({ live: false, reason: 'expired' });
    expect(keyLiveness(key({ partnerState: 'suspended' }), now, 'production')).toEqual({ live: false, reason: 'suspended' });
  });

  it('only active and recertification_due partners have live keys', () => {
    const live = partnerStates.filter((state) => keyLiveness(key({ partnerState: state }), now).live);
    expect(live).toEqual(['active', 'recertification_due']);
  });
});
