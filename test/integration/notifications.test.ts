import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from '../../activities/notifications.js';
import { activePartner, partnerRow, submit, waitForState } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
const secret = 'whsec_test_0123456789abcdef';
const t: Record<string, string> = {};

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  stack = await startStack({
    webhook: { url: receiver.url, secret },
    policyOverrides: { recertifyEvery: '3s', recertReminders: ['2s'], suspendedGrace: '30s' },
  });
  t.alice = await stack.operator('alice', ['approver']);
});
afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
});

describe('notifications', () => {
  it('are written to the outbox and POSTed with an HMAC signature and a delivery id', async () => {
    const { partnerId } = await submit(stack);
    const delivery = await eventually(async () => receiver.received.find((r) => JSON.parse(r.body).partnerId === partnerId));
    const body = JSON.parse(delivery.body);
    expect(body).toMatchObject({ kind: 'approval.requested', partnerId, recipients: ['operator:alice'] });
    const timestamp = delivery.headers[TIMESTAMP_HEADER] as string;
    expect(delivery.headers[SIGNATURE_HEADER]).toBe(signWebhook(secret, timestamp, delivery.body));
    expect(delivery.headers[DELIVERY_HEADER]).toBe(body.id);
    const row = await eventually(() =>
      stack.db.selectFrom('notifications').selectAll().where('id', '=', body.id).where('status', '=', 'delivered').executeTakeFirst(),
    );
    expect(row.attempts).toBe(1);
  });

  it('a failing receiver is retried by Temporal, boundedly, and the outbox records the outcome', async () => {
    receiver.failNext(2);
    const { partnerId } = await submit(stack);
    const row = await eventually(
      () =>
        stack.db
          .selectFrom('notifications')
          .selectAll()
          .where('partner_id', '=', partnerId)
          .where('kind', '=', 'approval.requested')
          .where('status', '=', 'delivered')
          .executeTakeFirst(),
      20_000,
    );
    expect(row.attempts).toBe(3);
    // Delivered once to the receiver despite the retries.
    expect(receiver.received.filter((r) => JSON.parse(r.body).id === row.id)).toHaveLength(1);

    receiver.failNext(100);
    const p2 = await submit(stack);
    const failed = await eventually(
      () =>
        stack.db
          .selectFrom('notifications')
          .selectAll()
          .where('partner_id', '=', p2.partnerId)
          .where('kind', '=', 'approval.requested')
          .where('status', '=', 'failed')
          .executeTakeFirst(),
      30_000,
    );
    expect(failed.attempts).toBe(4);
    expect(failed.last_error).toContain('500');
    receiver.failNext(0);
    // The lifecycle is not held up by a dead webhook.
    expect((await partnerRow(stack, p2.partnerId)).state).toBe('pending_approval');
  });

  it('the policy is re-read at each recertification: a changed file gives the next cycle its version', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const before = (await partnerRow(stack, p.partnerId)).policy_version;
    const raw = JSON.parse(fs.readFileSync(stack.policyFile, 'utf8'));
    raw.environments.sandbox.expiryWarnings = ['5s'];
    fs.writeFileSync(stack.policyFile, JSON.stringify(raw));
    await waitForState(stack, p.partnerId, 'recertification_due');
    const res = await stack.call('POST', `/v1/partners/${p.partnerId}/recertifications`, { token: t.alice!, body: { decision: 'keep', reason: 'ok' } });
    expect(res.status, res.text).toBe(200);
    const after = (await partnerRow(stack, p.partnerId)).policy_version;
    expect(after).not.toBe(before);
    expect(after).toMatch(/^sha256:[0-9a-f]{16}$/);
  });
});
