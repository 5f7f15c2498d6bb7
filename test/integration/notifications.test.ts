import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from '../../activities/notifications.js';
import { activePartner, partnerRow, submit, waitForState } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let securityReceiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
const secret = 'whsec_test_0123456789abcdef';
const securitySecret = 'whsec_security_fedcba9876543210';
// fast backoff: a dead letter within seconds instead of a day
const retry = { firstRetryMs: 200, maxBackoffMs: 600, retryForMs: 4000 };
const t: Record<string, string> = {};

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  securityReceiver = await startWebhookReceiver();
  stack = await startStack({
    webhooks: {
      endpoints: [
        { name: 'default', url: receiver.url, secret, events: ['*'] },
        { name: 'security', url: securityReceiver.url, secret: securitySecret, events: ['partner.revoked', 'revocation.*'] },
      ],
      retry,
    },
    policyOverrides: { recertifyEvery: '3s', recertReminders: ['2s'], suspendedGrace: '30s' },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.security = await stack.operator('sec', ['security']);
});
afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
  await securityReceiver?.close();
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

  it('a failing receiver is retried from the outbox with backoff, and gets the notice once', async () => {
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
    expect(receiver.received.filter((r) => JSON.parse(r.body).id === row.id)).toHaveLength(1);
  });

  it('gives up after the retry window: a dead letter that operators see and redeliver, audited', async () => {
    receiver.failNext(1_000_000);
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
    expect(failed.attempts).toBeGreaterThanOrEqual(3);
    expect(failed.last_error).toContain('500');
    // The lifecycle is not held up by a dead webhook.
    expect((await partnerRow(stack, p2.partnerId)).state).toBe('pending_approval');

    const listed = await stack.call('GET', '/v1/notifications/dead-letters', { token: t.security });
    expect(listed.status, listed.text).toBe(200);
    expect(listed.json.items).toContainEqual(expect.objectContaining({ notificationId: failed.id, endpoint: 'default', kind: 'approval.requested', partnerId: p2.partnerId }));
    expect((await stack.call('GET', '/v1/notifications/dead-letters', { token: t.alice })).status).toBe(403);
    expect((await stack.call('POST', '/v1/notifications/not-an-id/redelivery', { token: t.security, body: { reason: 'x' } })).status).toBe(400);

    receiver.failNext(0);
    const requeued = await stack.call('POST', `/v1/notifications/${failed.id}/redelivery`, { token: t.security, body: { reason: 'receiver fixed' } });
    expect(requeued.status, requeued.text).toBe(202);
    expect(requeued.json).toEqual({ notificationId: failed.id, requeued: 1 });
    await eventually(() => stack.db.selectFrom('notifications').select('id').where('id', '=', failed.id).where('status', '=', 'delivered').executeTakeFirst(), 15_000);
    expect(receiver.received.filter((r) => JSON.parse(r.body).id === failed.id)).toHaveLength(1);
    const audit = await stack.db.selectFrom('audit_events').selectAll().where('action', '=', 'notice.redelivery_requested').where('partner_id', '=', p2.partnerId).execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'operator:sec', reason: 'receiver fixed' });
    // nothing dead any more: a second request changes nothing
    expect((await stack.call('POST', `/v1/notifications/${failed.id}/redelivery`, { token: t.security, body: { reason: 'again' } })).status).toBe(409);
  });

  it('each endpoint gets only the notices its filter names, signed with its own secret', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    const revoked = await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.security, body: { reason: 'incident 7' } });
    expect(revoked.status, revoked.text).toBe(202);
    const delivery = await eventually(async () => securityReceiver.received.find((r) => JSON.parse(r.body).partnerId === p.partnerId));
    expect(JSON.parse(delivery.body).kind).toBe('partner.revoked');
    expect(delivery.headers[SIGNATURE_HEADER]).toBe(signWebhook(securitySecret, delivery.headers[TIMESTAMP_HEADER] as string, delivery.body));
    // the default endpoint got it too (it takes everything); the security endpoint nothing else of this partner
    await eventually(async () => receiver.received.find((r) => JSON.parse(r.body).partnerId === p.partnerId && JSON.parse(r.body).kind === 'partner.revoked'));
    expect(securityReceiver.received.filter((r) => JSON.parse(r.body).partnerId === p.partnerId).map((r) => JSON.parse(r.body).kind)).toEqual(['partner.revoked']);
    // both endpoints' attempts finish together: the notice's summary sees both (a lost update left it pending on Postgres)
    const id = JSON.parse(delivery.body).id as string;
    const row = await eventually(() => stack.db.selectFrom('notifications').select(['status']).where('id', '=', id).where('status', '=', 'delivered').executeTakeFirst(), 10_000);
    expect(row.status).toBe('delivered');
    const deliveries = await stack.db.selectFrom('notice_deliveries').select(['endpoint', 'status', 'attempts']).where('notification_id', '=', id).orderBy('endpoint').execute();
    expect(deliveries).toEqual([
      { endpoint: 'default', status: 'delivered', attempts: 1 },
      { endpoint: 'security', status: 'delivered', attempts: 1 },
    ]);
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
