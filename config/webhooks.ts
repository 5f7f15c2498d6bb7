import fs from 'node:fs';
import { z } from 'zod';
import { defaultRetryPolicy, eventFilterPattern, type RetryPolicy } from '../domain/notice-delivery.js';
import { duration } from './policy.js';

/**
 * Where notices go (issue #16, item 9): several webhook endpoints, each with its own secret and
 * event filter, from WEBHOOKS_FILE; WEBHOOK_URL + WEBHOOK_SECRET remain as the one endpoint
 * `default` receiving everything. Secrets never sit in the file: an endpoint names the variable
 * that holds its secret (`secretEnv`), so the file can be committed and reviewed.
 *
 * ```json
 * { "endpoints": [
 *     { "name": "security", "url": "https://siem.example/hooks/pa", "secretEnv": "WEBHOOK_SECRET_SECURITY", "events": ["revocation.*", "partner.revoked"] },
 *     { "name": "crm", "url": "https://crm.example/pa", "secretEnv": "WEBHOOK_SECRET_CRM", "events": ["partner.*"] } ],
 *   "retryFor": "24 hours", "firstRetry": "5s", "maxBackoff": "30 minutes" }
 * ```
 */

export interface WebhookEndpoint {
  name: string;
  url: string;
  secret: string;
  events: string[];
}

export interface WebhookConfig {
  endpoints: WebhookEndpoint[];
  retry: RetryPolicy;
}

const fileSchema = z.strictObject({
  endpoints: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'lower-case letters, digits, - and _, at most 40'),
        url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
        secretEnv: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'the name of an environment variable'),
        events: z.array(z.string().regex(eventFilterPattern, 'a notice kind, a family like "partner.*", or "*"')).min(1),
      }),
    )
    .refine((list) => new Set(list.map((e) => e.name)).size === list.length, 'endpoint names must be unique'),
  retryFor: duration.optional(),
  firstRetry: duration.optional(),
  maxBackoff: duration.optional(),
});

export class WebhookConfigError extends Error {}

/** The endpoints and retry policy from the environment; no endpoint at all is valid (notices are only recorded). */
export function loadWebhookConfig(env: NodeJS.ProcessEnv): WebhookConfig {
  const endpoints: WebhookEndpoint[] = [];
  let retry = defaultRetryPolicy;
  if (env.WEBHOOK_URL && env.WEBHOOK_SECRET) endpoints.push({ name: 'default', url: env.WEBHOOK_URL, secret: env.WEBHOOK_SECRET, events: ['*'] });
  if (env.WEBHOOKS_FILE) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(env.WEBHOOKS_FILE, 'utf8'));
    } catch (err) {
      throw new WebhookConfigError(`WEBHOOKS_FILE ${env.WEBHOOKS_FILE}: ${(err as Error).message}`);
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) {
      throw new WebhookConfigError(`WEBHOOKS_FILE ${env.WEBHOOKS_FILE}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
    }
    for (const e of parsed.data.endpoints) {
      const secret = env[e.secretEnv];
      // the variable's name is reported, never its value
      if (!secret || secret.length < 16) throw new WebhookConfigError(`WEBHOOKS_FILE: endpoint ${e.name}: ${e.secretEnv} must hold a secret of at least 16 characters`);
      if (endpoints.some((x) => x.name === e.name)) throw new WebhookConfigError(`WEBHOOKS_FILE: endpoint name ${e.name} is taken (WEBHOOK_URL is "default")`);
      endpoints.push({ name: e.name, url: e.url, secret, events: e.events });
    }
    retry = {
      retryForMs: parsed.data.retryFor ?? retry.retryForMs,
      firstRetryMs: parsed.data.firstRetry ?? retry.firstRetryMs,
      maxBackoffMs: parsed.data.maxBackoff ?? retry.maxBackoffMs,
    };
  }
  return { endpoints, retry };
}
