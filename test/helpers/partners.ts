import { expect } from 'vitest';
import { eventually, type Stack } from './stack.js';

export const baseSubmission = {
  name: 'Acme Logistics',
  contactEmail: 'dev@acme.example',
  sponsor: 'alice',
  environment: 'sandbox' as const,
  scopes: ['orders:read'],
  justification: 'Sync order status into the Acme dashboard',
};

/** Submits over HTTP and waits until the workflow has recorded the submission. */
export async function submit(stack: Stack, overrides: Record<string, unknown> = {}, token?: string) {
  const res = await stack.call('POST', '/v1/partners', { body: { ...baseSubmission, ...overrides }, token });
  expect(res.status, res.text).toBe(202);
  const { partnerId, requestToken } = res.json as { partnerId: string; requestToken: string };
  await waitForAction(stack, partnerId, 'partner.submitted');
  return { partnerId, requestToken };
}

export async function partnerRow(stack: Stack, partnerId: string) {
  return stack.db.selectFrom('partners').selectAll().where('id', '=', partnerId).executeTakeFirstOrThrow();
}

export async function waitForState(stack: Stack, partnerId: string, state: string | string[], timeoutMs = 20_000) {
  const states = Array.isArray(state) ? state : [state];
  return eventually(async () => {
    const row = await partnerRow(stack, partnerId);
    return states.includes(row.state) ? row : undefined;
  }, timeoutMs);
}

export async function waitForAction(stack: Stack, partnerId: string, action: string, timeoutMs = 20_000) {
  return eventually(
    () => stack.db.selectFrom('audit_events').selectAll().where('partner_id', '=', partnerId).where('action', '=', action).executeTakeFirst(),
    timeoutMs,
  );
}

export async function actions(stack: Stack, partnerId: string): Promise<string[]> {
  const rows = await stack.db.selectFrom('audit_events').select('action').where('partner_id', '=', partnerId).orderBy('seq').execute();
  return rows.map((r) => r.action);
}

export const decide = (stack: Stack, partnerId: string, token: string, body: Record<string, unknown>) =>
  stack.call('POST', `/v1/partners/${partnerId}/decisions`, { token, body: { reason: 'looks right', ...body } });

/** Submits, approves every stage, picks the key up: an active partner with its plaintext key. */
export async function activePartner(stack: Stack, approvers: { sponsor: string; security?: string }, overrides: Record<string, unknown> = {}) {
  const { partnerId, requestToken } = await submit(stack, overrides);
  const first = await decide(stack, partnerId, approvers.sponsor, { decision: 'approve' });
  expect(first.status, first.text).toBe(200);
  if (first.json.state === 'pending_approval') {
    const second = await decide(stack, partnerId, approvers.security!, { decision: 'approve' });
    expect(second.status, second.text).toBe(200);
  }
  const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
  expect(pickup.status, pickup.text).toBe(200);
  return { partnerId, requestToken, apiKey: pickup.json.apiKey as string, keyId: pickup.json.keyId as string };
}
