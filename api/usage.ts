import type { Db } from '../schema/db.js';
import { writeUsage } from '../schema/repositories/usage.js';

/**
 * Usage evidence for recertification (last use per key, daily count per scope), gathered in
 * memory on the hot path and written in one transaction every `flushEveryMs`: introspection never
 * waits on a write. A crash loses at most one interval of counts, which is evidence, not access; a
 * failed write is kept and retried with the next.
 */
export class UsageRecorder {
  private lastUsed = new Map<string, string>();
  private counts = new Map<string, number>();
  private timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    flushEveryMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), flushEveryMs);
    this.timer.unref();
  }

  record(keyId: string, scope: string | undefined, now = new Date()): void {
    this.lastUsed.set(keyId, now.toISOString());
    if (scope) {
      const key = `${keyId}\u0000${scope}\u0000${now.toISOString().slice(0, 10)}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
  }

  /** Writes what was gathered; concurrent calls queue behind each other. */
  flush(): Promise<void> {
    // a failed flush must not stop the ones after it
    const run = this.flushing.catch(() => undefined).then(() => this.write());
    this.flushing = run;
    return run;
  }

  private async write(): Promise<void> {
    if (this.lastUsed.size === 0 && this.counts.size === 0) return;
    const lastUsed = this.lastUsed;
    const counts = this.counts;
    this.lastUsed = new Map();
    this.counts = new Map();
    try {
      await writeUsage(this.db, {
        lastUsed,
        counts: [...counts].map(([key, count]) => {
          const [keyId, scope, day] = key.split('\u0000') as [string, string, string];
          return { keyId, scope, day, count };
        }),
      });
    } catch (err) {
      // Not written (the database is away or busy): merged back for the next flush, so evidence
      // is not lost to a passing outage (the maps stay bounded by keys × scopes × days).
      for (const [keyId, at] of lastUsed) if ((this.lastUsed.get(keyId) ?? '') < at) this.lastUsed.set(keyId, at);
      for (const [key, count] of counts) this.counts.set(key, (this.counts.get(key) ?? 0) + count);
      throw err;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
