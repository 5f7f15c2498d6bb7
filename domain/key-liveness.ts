/**
 * When a key stops being accepted: the one rule, used by introspection (and so the gateway) and by
 * partner-key authentication of the API. Pure: the facts of one credential row and its partner,
 * and the time, give a verdict. Every condition is checked on every call, so a late timer (the
 * workflow has not yet revoked or retired the key) never keeps a key alive.
 */
import { isKeyBearing, type Environment, type PartnerState } from './partner-states.js';

export interface KeyFacts {
  status: 'active' | 'revoked';
  /** ISO-8601 UTC */
  expiresAt: string;
  /** ISO-8601 UTC, set once a rotation retires the key */
  retireAt: string | null;
  environment: Environment;
  partnerState: PartnerState;
}

/** Why a well-formed, known key is refused (the order is the OpenAPI enum's). */
export const keyDeadReasons = ['expired', 'suspended', 'revoked', 'wrong_environment', 'not_active'] as const;
export type KeyDeadReason = (typeof keyDeadReasons)[number];
export type KeyLiveness = { live: true } | { live: false; reason: KeyDeadReason };

/**
 * Is this key live at `now`? `environment`, when given, is the environment the caller serves:
 * a key is only good in its own. The order of the checks decides which reason is reported.
 */
export function keyLiveness(key: KeyFacts, now: Date, environment?: Environment): KeyLiveness {
  if (key.status !== 'active' || key.partnerState === 'revoked' || key.partnerState === 'offboarded') return dead('revoked');
  // ISO-8601 UTC strings of the same form compare as instants.
  const nowIso = now.toISOString();
  if (key.expiresAt <= nowIso || (key.retireAt !== null && key.retireAt <= nowIso)) return dead('expired');
  if (key.partnerState === 'suspended') return dead('suspended');
  if (!isKeyBearing(key.partnerState)) return dead('not_active');
  if (environment && environment !== key.environment) return dead('wrong_environment');
  return { live: true };
}

const dead = (reason: KeyDeadReason): KeyLiveness => ({ live: false, reason });
