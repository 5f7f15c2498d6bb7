import { describe, expect, it } from 'vitest';
import { matchesEvent, nextAttemptAt } from '../../domain/notice-delivery.js';

describe('webhook event filters', () => {
  it('match a kind, a family or everything, and nothing else', () => {
    expect(matchesEvent(['*'], 'partner.revoked')).toBe(true);
    expect(matchesEvent(['partner.*'], 'partner.revoked')).toBe(true);
    expect(matchesEvent(['partner.*'], 'partnerx.revoked')).toBe(false);
    expect(matchesEvent(['approval.requested'], 'approval.requested')).toBe(true);
    expect(matchesEvent(['approval.requested'], 'approval.requested.more')).toBe(false);
    expect(matchesEvent([], 'partner.revoked')).toBe(false);
  });
});

describe('retry backoff', () => {
  const policy = { firstRetryMs: 1000, maxBackoffMs: 8000, retryForMs: 60_000 };
  const mid = () => 0.5;
  it('doubles from the first retry up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => nextAttemptAt(n, 0, 1e9, policy, mid))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });
  it('gives up when the next attempt would come after the retry window', () => {
    expect(nextAttemptAt(1, 59_500, 60_000, policy, mid)).toBeUndefined();
    expect(nextAttemptAt(1, 58_000, 60_000, policy, mid)).toBe(59_000);
  });
  it('spreads retries by ±20 %', () => {
    expect(nextAttemptAt(1, 0, 1e9, policy, () => 0)).toBe(800);
    expect(nextAttemptAt(1, 0, 1e9, policy, () => 1)).toBe(1200);
  });
});
