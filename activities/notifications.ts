import { createHmac } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Db } from '../schema/db.js';
import type { NotificationInput } from './types.js';

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
  await db
    .insertInto('notifications')
    .values({
      id: n.id,
      partner_id: n.partnerId,
      kind: n.kind,
      recipients: JSON.stringify(n.recipients),
      payload,
      status: webhook ? 'pending' : 'not_configured',
      attempts: 0,
      last_error: null,
      created_at: now,
      delivered_at: null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  if (!webhook) return;
  const row = await db.selectFrom('notifications').select(['status', 'payload']).where('id', '=', n.id).executeTakeFirstOrThrow();
  if (row.status === 'delivered') return;

  const timestamp = String(Math.floor(Date.now() / 1000));
  const info = Context.current().info;
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
    await db
      .updateTable('notifications')
      .set((eb) => ({ status: 'delivered', delivered_at: new Date().toISOString(), attempts: eb('attempts', '+', 1), last_error: null }))
      .where('id', '=', n.id)
      .execute();
  } catch (err) {
    const lastAttempt = info.retryPolicy?.maximumAttempts !== undefined && info.attempt >= info.retryPolicy.maximumAttempts;
    await db
      .updateTable('notifications')
      .set((eb) => ({
        status: lastAttempt ? 'failed' : 'pending',
        attempts: eb('attempts', '+', 1),
        last_error: String((err as Error).message).slice(0, 500),
      }))
      .where('id', '=', n.id)
      .execute();
    throw err;
  }
}
