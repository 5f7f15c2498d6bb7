/**
 * Per-minute request budgets enforced by the API. The defaults protect a public deployment;
 * RATE_LIMIT_* (config/env.ts) or createApp's `limits` raise them.
 */
export const defaultRateLimits = {
  /** anonymous submissions per source address */
  onboardingPerMinute: 10,
  /** decisions and recertification answers per operator */
  decisionsPerMinute: 60,
  /** failed introspections per source address (key guessing) */
  introspectionFailuresPerMinute: 600,
  /** failed credentials (operator tokens, partner keys, request tokens) per source address */
  authFailuresPerMinute: 30,
};

export type RateLimits = typeof defaultRateLimits;

/** The budgets in force: the defaults, with whatever was configured on top. */
export function rateLimits(configured: Partial<RateLimits> | undefined): RateLimits {
  return { ...defaultRateLimits, ...configured };
}

/** Budgets nothing reaches: for measuring (the benchmark) and fuzzing, where a 429 would hide the real answer. */
export const unlimitedRateLimits: RateLimits = { onboardingPerMinute: 1e9, decisionsPerMinute: 1e9, introspectionFailuresPerMinute: 1e9, authFailuresPerMinute: 1e9 };
