import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowIdFor } from '../../workflows/messages.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let alice: string;

beforeAll(async () => {
  stack = await startStack();
  alice = await stack.operator('alice', ['approver']);
});
afterAll(() => stack?.stop());

const submission = {
  name: 'Acme Logistics',
  contactEmail: 'dev@acme.example',
  sponsor: 'alice',
  environment: 'sandbox',
  scopes: ['orders:read'],
  justification: 'Sync order status into the Acme dashboard',
};

describe('the first slice through every layer', () => {
  it('POST /v1/partners starts the workflow, an activity records it, GET returns it', async () => {
    const created = await stack.call('POST', '/v1/partners', { body: submission });
    expect(created.status).toBe(202);
    expect(created.json).toMatchObject({ state: 'pending_approval' });
    expect(created.json.partnerId).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(created.json.requestToken).toMatch(/^prt_/);
    const { partnerId } = created.json;

    const handle = stack.client.workflow.getHandle(workflowIdFor(partnerId));
    const description = await handle.describe();
    expect(description.type).toBe('partnerLifecycle');
    expect(description.status.name).toBe('RUNNING');

    // The workflow's first activity writes the audit event and the policy-derived deadline.
    const audited = await eventually(() =>
      stack.db.selectFrom('audit_events').selectAll().where('partner_id', '=', partnerId).where('action', '=', 'partner.submitted').executeTakeFirst(),
    );
    expect(audited.actor).toBe(`partner:${partnerId}`);

    const view = await stack.call('GET', `/v1/partners/${partnerId}`, { token: alice });
    expect(view.status).toBe(200);
    expect(view.json).toMatchObject({
      partnerId,
      name: 'Acme Logistics',
      sponsor: 'alice',
      environment: 'sandbox',
      state: 'pending_approval',
      pendingStage: 'sponsor',
      scopes: ['orders:read'],
      credentials: [],
    });
    expect(view.json.nextDeadline.action).toBe('request escalated to alternates');

    // The partner sees itself with its request token.
    const self = await stack.call('GET', `/v1/partners/${partnerId}`, { token: created.json.requestToken });
    expect(self.status).toBe(200);
    expect(self.json.partnerId).toBe(partnerId);
  });

  it('rejects an unknown sponsor with 422 and stores nothing', async () => {
    const before = await stack.db.selectFrom('partners').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const res = await stack.call('POST', '/v1/partners', { body: { ...submission, sponsor: 'nobody' } });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.json.detail).toContain('nobody');
    const after = await stack.db.selectFrom('partners').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('rejects unknown fields with 400 listing the issue', async () => {
    const res = await stack.call('POST', '/v1/partners', { body: { ...submission, state: 'active' } });
    expect(res.status).toBe(400);
    expect(res.json.issues).toEqual([{ path: '(body)', message: 'unknown field(s): state' }]);
  });

  it('healthz answers and readyz checks the database and Temporal', async () => {
    expect((await stack.call('GET', '/healthz')).json).toEqual({ status: 'ok' });
    const ready = await stack.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready', checks: { database: true, temporal: true }, policyVersion: stack.policy.version });
  });

  it('an unknown partner is a 404 problem', async () => {
    const res = await stack.call('GET', '/v1/partners/AAAAAAAAAAAAAAAA', { token: alice });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ status: 404, title: 'Not Found' });
  });
});
