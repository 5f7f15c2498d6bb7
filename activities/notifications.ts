import { createHmac } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Db } from '../schema/db.js';
import { noticeAttemptFailed, noticeDelivered, recordNotice, storedNotice } from '../schema/repositories/notifications.js';
import type { NotificationInput } from '../domain/lifecycle-records.js';

export interface WebhookTarget {
  url: string;
  secret: string;
}

export const SIGNATURE_HEADER = 'x-partner-access-signature';
export const DELIVERY_HEADER = 'x-partner-access-delivery';
export const TIMESTAMP_HEADER = 'x-partner-access-timestamp';

/** HMAC-SHA256 over `<timestamp>.<body>`: the receiver rejects replays outside its tolerance. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Writes the notice to the outbox (once, keyed by its id) and, when a webhook is configured,
 * delivers it. A failed attempt throws so Temporal retries it; the last attempt marks it failed.
 * The webhook target comes from configuration, never from a request.
 */
export async function notify(db: Db, webhook: WebhookTarget | undefined, n: NotificationInput): Promise<void> {
  const now = new Date().toISOString();
  const payload = JSON.stringify({ id: n.id, kind: n.kind, partnerId: n.partnerId, recipients: n.recipients, message: n.message, data: n.data ?? {}, createdAt: now });
  await recordNotice(db, { id: n.id, partnerId: n.partnerId, kind: n.kind, recipients: n.recipients, payload, status: webhook ? 'pending' : 'not_configured', at: now });
  if (!webhook) return;
  const row = await storedNotice(db, n.id);
  if (row.status === 'delivered') return;

  const timestamp = String(Math.floor(Date.now() / 1000));
  const { info, metricMeter } = Context.current();
  // exported with the SDK's own metrics (WORKER_METRICS_ADDRESS), tagged with the activity and task queue
  const deliveries = metricMeter.createCounter('partner_access_webhook_deliveries', 'deliveries', 'Webhook delivery attempts, by outcome (delivered, failed: retried, gave_up: the last attempt failed)');
  try {
    const response = await fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signWebhook(webhook.secret, timestamp, row.payload),
        [DELIVERY_HEADER]: n.id,
        [TIMESTAMP_HEADER]: timestamp,
      },
      body: row.payload,
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) throw new Error(`webhook answered ${response.status}`);
    deliveries.add(1, { outcome: 'delivered' });
    await noticeDelivered(db, n.id, new Date().toISOString());
  } catch (err) {
    const lastAttempt = info.retryPolicy?.maximumAttempts !== undefined && info.attempt >= info.retryPolicy.maximumAttempts;
    deliveries.add(1, { outcome: lastAttempt ? 'gave_up' : 'failed' });
    await noticeAttemptFailed(db, n.id, String((err as Error).message), lastAttempt);
    throw err;
  }
}
