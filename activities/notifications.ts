import { createHmac } from 'node:crypto';
import type { MetricMeter } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Db } from '../schema/db.js';
import { claimDueDeliveries, recordAttempt, recordNotice, type ClaimedDelivery, type NewNotice } from '../schema/repositories/notifications.js';
import type { NotificationInput } from '../domain/lifecycle-records.js';
import { matchesEvent, nextAttemptAt } from '../domain/notice-delivery.js';
import type { WebhookConfig, WebhookEndpoint } from '../config/webhooks.js';

export const SIGNATURE_HEADER = 'x-partner-access-signature';
export const DELIVERY_HEADER = 'x-partner-access-delivery';
export const TIMESTAMP_HEADER = 'x-partner-access-timestamp';

/** HMAC-SHA256 over `<timestamp>.<body>`: the receiver rejects replays outside its tolerance. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface NoticeDeps {
  db: Db;
  webhooks: WebhookConfig;
  /** counts attempts by outcome (the activity's meter, or the runtime's for the deliverer) */
  metricMeter?: MetricMeter;
}

/** A delivery holds its row this long: longer than an attempt (5 s timeout), so no second worker takes it meanwhile. */
const LEASE_MS = 30_000;

/** Deliveries claimed per pass; a full batch means more may be due. */
const BATCH = 20;

/**
 * A notice as the outbox keeps it: the payload every endpoint receives, and one delivery per
 * endpoint that wants it. Endpoints come from configuration, never from a request.
 */
export function noticeRow(webhooks: WebhookConfig, n: NotificationInput, now = new Date()): NewNotice {
  const payload = JSON.stringify({ id: n.id, kind: n.kind, partnerId: n.partnerId, recipients: n.recipients, message: n.message, data: n.data ?? {}, createdAt: now.toISOString() });
  const retryUntil = new Date(now.getTime() + webhooks.retry.retryForMs).toISOString();
  const deliveries = webhooks.endpoints.filter((e) => matchesEvent(e.events, n.kind)).map((e) => ({ endpoint: e.name, retryUntil }));
  return { id: n.id, partnerId: n.partnerId, kind: n.kind, recipients: n.recipients, payload, at: now.toISOString(), deliveries };
}

/**
 * Starts the first attempt of a recorded notice's deliveries and returns at once: the lifecycle
 * never waits on a receiver. Whatever this attempt leaves (a failure, a worker that died mid-way:
 * its lease runs out) the deliverer (`startNoticeDeliverer`, in the worker process) retries with
 * backoff for hours.
 */
export function firstAttempt(deps: NoticeDeps, row: NewNotice): void {
  if (row.deliveries.length === 0) return;
  deliverDue(deps, { notificationId: row.id }).catch(() => {
    // the delivery is still due in the outbox: the deliverer's next pass takes it
  });
}

/** Writes the notice to the outbox (once, keyed by its id), then starts its first delivery attempt. */
export async function notify(deps: NoticeDeps, n: NotificationInput): Promise<void> {
  const row = noticeRow(deps.webhooks, n);
  await recordNotice(deps.db, row);
  firstAttempt(deps, row);
}

/** Attempts the due deliveries (of one notice, or the oldest due of all); how many were attempted. */
export async function deliverDue(deps: NoticeDeps, opts: { notificationId?: string; limit?: number } = {}): Promise<number> {
  const claimed = await claimDueDeliveries(deps.db, { now: new Date(), leaseMs: LEASE_MS, limit: opts.limit ?? BATCH, notificationId: opts.notificationId });
  await Promise.all(claimed.map((d) => attempt(deps, d)));
  return claimed.length;
}

async function attempt(deps: NoticeDeps, d: ClaimedDelivery): Promise<void> {
  const endpoint = deps.webhooks.endpoints.find((e) => e.name === d.endpoint);
  const counter = deps.metricMeter?.createCounter('partner_access_webhook_deliveries', 'deliveries', 'Webhook delivery attempts, by outcome (delivered, failed: retried later, gave_up: a dead letter)');
  const error = endpoint ? await post(endpoint, d) : 'the endpoint is no longer configured';
  const now = new Date();
  const next = error === undefined || !endpoint ? undefined : nextAttemptAt(d.attempts + 1, now.getTime(), Date.parse(d.retryUntil), deps.webhooks.retry);
  counter?.add(1, { outcome: error === undefined ? 'delivered' : next ? 'failed' : 'gave_up', endpoint: d.endpoint });
  await recordAttempt(deps.db, d, error === undefined ? { delivered: true } : { delivered: false, error, nextAttemptAt: next === undefined ? undefined : new Date(next).toISOString() }, now);
}

/** One POST of the stored payload, signed with the endpoint's secret; the error, or undefined when delivered. */
async function post(endpoint: WebhookEndpoint, d: ClaimedDelivery): Promise<string | undefined> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  try {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signWebhook(endpoint.secret, timestamp, d.payload),
        [DELIVERY_HEADER]: d.notificationId,
        [TIMESTAMP_HEADER]: timestamp,
      },
      body: d.payload,
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    });
    await response.body?.cancel();
    return response.ok ? undefined : `webhook answered ${response.status}`;
  } catch (err) {
    return String((err as Error).message);
  }
}

/**
 * The worker process's deliverer: every `intervalMs`, the due retries, oldest first. Several workers
 * may run one each (leases keep them apart). Returns its stop function, which waits for a pass in progress.
 */
export function startNoticeDeliverer(deps: NoticeDeps & { logger: Logger }, intervalMs = 1000): () => Promise<void> {
  let stopped = false;
  let current: Promise<void> | undefined;
  const pass = async () => {
    try {
      // a full batch means more may be due: go on at once rather than after the interval
      while (!stopped && (await deliverDue(deps)) === BATCH);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'notice deliverer: pass failed; retried next interval');
    } finally {
      current = undefined;
    }
  };
  // one pass at a time: a slow receiver delays the next pass instead of stacking them up
  const timer = setInterval(() => (current ??= pass()), intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await current;
  };
}
