import { describe, expect, it } from 'vitest';
import { failureBudget, InMemoryRateLimiter, type RateDecision, type RateLimiter } from '../../api/rate-limit.js';

/**
 * A shared store as a second connection sees it: each read shows every write committed before it
 * was asked, but its answer arrives only when the test lets it (a write committed meanwhile is
 * missing from it). Writes are immediate.
 */
class LaggingReads implements RateLimiter {
  private readonly store = new InMemoryRateLimiter();
  private readonly held: Array<() => void> = [];
  holding = true;
  take(key: string, limit: number, windowMs: number, now?: number) {
    return this.store.take(key, limit, windowMs, now);
  }
  async peek(key: string, limit: number, windowMs: number, now?: number): Promise<RateDecision> {
    const seen = await this.store.peek(key, limit, windowMs, now);
    if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
    return seen;
  }
  release() {
    this.holding = false;
    for (const answer of this.held.splice(0)) answer();
  }
  get reading() {
    return this.held.length;
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('a failure budget', () => {
  it('a read answered after failures were spent meanwhile does not let one more check run', async () => {
    const limiter = new LaggingReads();
    const budget = failureBudget(limiter, 'auth-failures', 2);
    const checks: number[] = [];
    const gates: Array<() => void> = [];
    const guess = (n: number) =>
      budget.check(
        'attacker',
        () => {
          checks.push(n);
          return new Promise<boolean>((resolve) => gates.push(() => resolve(false)));
        },
        (ok) => !ok,
      );
    // two guesses read the empty budget together and both run: exactly the budget
    const first = [guess(1), guess(2)];
    await settle();
    limiter.release();
    await settle();
    expect(checks).toEqual([1, 2]);
    // a third asks while they run; its read is answered only after both failures were spent
    limiter.holding = true;
    const third = guess(3);
    await settle();
    expect(limiter.reading).toBe(1);
    for (const fail of gates.splice(0)) fail();
    await Promise.all(first);
    limiter.release();
    for (let i = 0; i < 5; i++) await settle();
    expect(checks).toEqual([1, 2]);
    for (const fail of gates.splice(0)) fail(); // (a third check, if it ran, ends)
    expect(await third).toMatchObject({ refused: { ok: false } });
  });

  it('one guess after another: exactly the budget is checked, the rest refused', async () => {
    const budget = failureBudget(new InMemoryRateLimiter(), 'auth-failures', 5);
    let checked = 0;
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await budget.check('attacker', async () => (checked++, false), (ok) => !ok));
    expect(checked).toBe(5);
    expect(results.filter((r) => 'refused' in r)).toHaveLength(2);
  });
});
