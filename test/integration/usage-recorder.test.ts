/**
 * Usage evidence gathered by introspection survives a write that fails (a database away or busy):
 * the counts are kept for the next flush, and a failed flush does not stop the ones after it.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageRecorder } from '../../api/usage.js';
import { activePartner } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

describe('the usage recorder', () => {
  it('keeps what a failed flush could not write and writes it with the next', async () => {
    const alice = await stack.operator('alice', ['approver']);
    const { keyId } = await activePartner(stack, { sponsor: alice });
    const recorder = new UsageRecorder(stack.db, 3_600_000);
    const counted = async () =>
      Number((await stack.db.selectFrom('usage_counters').select((eb) => eb.fn.sum<number>('count').as('n')).where('key_id', '=', keyId).executeTakeFirst())?.n ?? 0);
    try {
      for (let i = 0; i < 3; i++) recorder.record(keyId, 'orders:read');
      // the table is away: the write fails
      await sql`ALTER TABLE usage_counters RENAME TO usage_counters_away`.execute(stack.db);
      await expect(recorder.flush()).rejects.toThrow();
      await sql`ALTER TABLE usage_counters_away RENAME TO usage_counters`.execute(stack.db);
      recorder.record(keyId, 'orders:read');
      await recorder.flush();
      expect(await counted()).toBe(4);
      const row = await stack.db.selectFrom('credentials').select('last_used_at').where('key_id', '=', keyId).executeTakeFirstOrThrow();
      expect(row.last_used_at).not.toBeNull();
    } finally {
      await recorder.close();
    }
  });
});
