import { describe, expect, it } from 'vitest';
import { InMemoryRateLimiter } from '../../api/rate-limit.js';

const minute = 60_000;
const now = Date.UTC(2026, 0, 1, 0, 0, 30);

describe('the in-memory limiter', () => {
  it('a take with a short window (a 10 s tier) never clears a minute-long failure budget', async () => {
    const limiter = new InMemoryRateLimiter(5, 1000);
    for (let i = 0; i < 10; i++) await limiter.take('auth-failures:attacker', 10, minute, now);
    for (let i = 0; i < 10; i++) await limiter.take(`auth-failures:other-${i}`, 10, minute, now);
    expect((await limiter.peek('auth-failures:attacker', 10, minute, now + 1)).ok).toBe(false);
    // 25 s later a 10 s window is two of its own lengths old, a minute's is not
    await limiter.take('tier:partner', 100, 10_000, now + 25_000);
    expect((await limiter.peek('auth-failures:attacker', 10, minute, now + 25_001)).ok).toBe(false);
  });

  it('stays within its key cap whatever a client sends, dropping the least recently counted first', async () => {
    const limiter = new InMemoryRateLimiter(10, 50);
    for (let i = 0; i < 500; i++) await limiter.take(`auth-failures:2001:db8:${i.toString(16)}::/64`, 10, minute, now);
    expect(limiter.size).toBeLessThanOrEqual(50);
    expect((await limiter.peek('auth-failures:2001:db8:1f3::/64', 10, minute, now)).remaining).toBe(8); // the latest kept
    expect((await limiter.peek('auth-failures:2001:db8:0::/64', 10, minute, now)).remaining).toBe(9); // evicted: a fresh budget
  });
});
