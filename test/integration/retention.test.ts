/**
 * Retention and erasure (issue #16, item 11) on a real stack: an ended partner's contact data is
 * erased on request with the audit chain still verifying; a live one's is refused; and the
 * policy's retention prunes old notices and usage counts, never a notice still being delivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../config/policy.js';
import { applyRetention, ERASED } from '../../schema/repositories/retention.js';
import { activePartner, partnerRow, waitForState } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';
import fs from 'node:fs';

let stack: Stack;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack();
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.admin = await stack.operator('root', ['admin']);
  t.auditor = await stack.operator('aud', ['auditor']);
});
afterAll(async () => {
  await stack?.stop();
});

const erase = (id: string, token = t.admin!) => stack.call('POST', `/v1/partners/${id}/erasure`, { token, body: { reason: 'GDPR request 42' } });

describe('erasure on request', () => {
  it('is refused while access lasts, and for anyone but an admin', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    expect((await erase(p.partnerId)).status).toBe(409);
    expect((await erase(p.partnerId, t.sec)).status).toBe(403);
    expect((await erase('0000000000000000')).status).toBe(404);
    expect((await partnerRow(stack, p.partnerId)).contact_email).toBe('dev@acme.example');
  });

  it('erases an ended partner\'s name, contact, justification and notices; the audit chain still verifies', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    expect((await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'contract ended' } })).status).toBe(202);
    await waitForState(stack, p.partnerId, 'revoked');
    expect(await stack.db.selectFrom('notifications').select('id').where('partner_id', '=', p.partnerId).execute()).not.toHaveLength(0);

    const res = await erase(p.partnerId);
    expect(res.status, res.text).toBe(200);
    const row = await partnerRow(stack, p.partnerId);
    expect([row.name, row.contact_email, row.justification]).toEqual([ERASED, ERASED, ERASED]);
    expect(row.erased_at).toBe(res.json.erasedAt);
    expect(await stack.db.selectFrom('notifications').select('id').where('partner_id', '=', p.partnerId).execute()).toHaveLength(0);
    const seen = await stack.call('GET', `/v1/partners/${p.partnerId}`, { token: t.auditor });
    expect(seen.text).not.toContain('acme.example');

    const verify = await stack.call('GET', '/v1/audit/verify', { token: t.auditor });
    expect(verify.json).toMatchObject({ ok: true });
    const events = await stack.db.selectFrom('audit_events').selectAll().where('partner_id', '=', p.partnerId).where('action', '=', 'partner.contact_erased').execute();
    expect(events).toHaveLength(1);
    expect(events[0]!.details).not.toContain('acme');

    // again: the first erasure's time, nothing written
    const again = await erase(p.partnerId);
    expect(again.json.erasedAt).toBe(res.json.erasedAt);
    expect(await stack.db.selectFrom('audit_events').select('seq').where('action', '=', 'partner.contact_erased').where('partner_id', '=', p.partnerId).execute()).toHaveLength(1);
  });
});

describe('retention', () => {
  it('prunes notices and usage counts older than the policy keeps, never a notice still being delivered', async () => {
    const raw = JSON.parse(fs.readFileSync(stack.policyFile, 'utf8'));
    const policy = parsePolicy({ ...raw, retention: { notifications: '30 days', usageCounters: '60 days' } });
    const now = Date.parse('2030-06-01T00:00:00Z');
    const notice = (id: string, createdAt: string, status: 'delivered' | 'pending') => ({
      id, partner_id: 'p-retention', kind: 'k', recipients: '[]', payload: '{}', status, attempts: 0, last_error: null, created_at: createdAt, delivered_at: null,
    });
    await stack.db
      .insertInto('notifications')
      .values([notice('old-delivered', '2030-04-01T00:00:00Z', 'delivered'), notice('old-pending', '2030-04-01T00:00:00Z', 'pending'), notice('recent', '2030-05-20T00:00:00Z', 'delivered')])
      .execute();
    // old-pending still waits for a delivery: it stays, however old
    await stack.db
      .insertInto('notice_deliveries')
      .values({ notification_id: 'old-pending', endpoint: 'default', status: 'pending', attempts: 3, next_attempt_at: '2030-06-01T01:00:00Z', retry_until: '2030-06-02T00:00:00Z', lease_until: null, last_error: null, created_at: '2030-04-01T00:00:00Z', delivered_at: null })
      .execute();
    await stack.db
      .insertInto('usage_counters')
      .values([
        { key_id: 'k-retention', scope: 'orders:read', day: '2030-03-01', count: 3 },
        { key_id: 'k-retention', scope: 'orders:read', day: '2030-05-01', count: 4 },
      ])
      .execute();
    const pruned = await applyRetention(stack.db, policy, now);
    expect(pruned.notifications).toBeGreaterThanOrEqual(1);
    const left = (await stack.db.selectFrom('notifications').select('id').where('partner_id', '=', 'p-retention').execute()).map((r) => r.id).sort();
    expect(left).toEqual(['old-pending', 'recent']);
    const days = (await stack.db.selectFrom('usage_counters').select('day').where('key_id', '=', 'k-retention').execute()).map((r) => r.day);
    expect(days).toEqual(['2030-05-01']);
  });
});
