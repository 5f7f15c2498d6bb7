/**
 * Operator identities in the API (issue #16, item 6): admins create, list, rotate and revoke
 * operators; tokens expire; every change is in the audit trail (never the token); the last admin
 * cannot be revoked; a name is never reused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let admin: string;
let auditor: string;

beforeAll(async () => {
  stack = await startStack({ noWorker: true });
  admin = await stack.operator('root', ['admin']);
  auditor = await stack.operator('aud', ['auditor']);
});
afterAll(() => stack?.stop());

const inbox = (token: string) => stack.call('GET', '/v1/operators', { token });
const auditOf = async (name: string) =>
  (await stack.db.selectFrom('audit_events').select(['action', 'actor', 'reason', 'details']).where('action', 'like', 'operator.%').orderBy('seq').execute()).filter(
    (e) => (JSON.parse(e.details ?? '{}') as { name?: string }).name === name,
  );

describe('operators through the API', () => {
  it('an admin creates an operator: its token works, expires in 90 days by default, and the creation is audited without the token', async () => {
    const created = await stack.call('POST', '/v1/operators', { token: admin, body: { name: 'carol', roles: ['security', 'security'], reason: 'new on-call' } });
    expect(created.status, created.text).toBe(201);
    expect(created.json.token).toMatch(/^pat_/);
    const days = (Date.parse(created.json.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);
    expect((await stack.call('GET', '/v1/inbox', { token: created.json.token })).status).toBe(200);
    const listed = (await inbox(auditor)).json.items.find((o: { name: string }) => o.name === 'carol');
    expect(listed).toMatchObject({ roles: ['security'], revokedAt: null, expiresAt: created.json.expiresAt });
    const trail = await auditOf('carol');
    expect(trail).toMatchObject([{ action: 'operator.created', actor: 'operator:root', reason: 'new on-call' }]);
    expect(JSON.stringify(trail)).not.toContain(created.json.token);
  });

  it('a rotation stops the old token at once and hands out the new one once', async () => {
    const created = (await stack.call('POST', '/v1/operators', { token: admin, body: { name: 'dave', roles: ['approver'], expiresInDays: 7, reason: 'r' } })).json;
    const rotated = await stack.call('POST', '/v1/operators/dave/rotation', { token: admin, body: { reason: 'laptop lost' } });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.json.token).not.toBe(created.token);
    expect((await stack.call('GET', '/v1/inbox', { token: created.token })).status).toBe(401);
    expect((await stack.call('GET', '/v1/inbox', { token: rotated.json.token })).status).toBe(200);
    expect((await auditOf('dave')).map((e) => e.action)).toEqual(['operator.created', 'operator.token_rotated']);
  });

  it('an expired token is refused', async () => {
    const created = (await stack.call('POST', '/v1/operators', { token: admin, body: { name: 'erin', roles: ['auditor'], expiresInDays: 1, reason: 'r' } })).json;
    expect((await inbox(created.token)).status).toBe(200);
    await stack.db.updateTable('operators').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('name', '=', 'erin').execute();
    expect((await inbox(created.token)).status).toBe(401);
  });

  it('a revocation is audited and final; the name is never given to anyone else; the last admin stays', async () => {
    const created = (await stack.call('POST', '/v1/operators', { token: admin, body: { name: 'frank', roles: ['approver'], reason: 'r' } })).json;
    const revoked = await stack.call('POST', '/v1/operators/frank/revocation', { token: admin, body: { reason: 'left the company' } });
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.json.revokedAt).toBeTruthy();
    expect((await inbox(created.token)).status).toBe(401);
    expect((await stack.call('POST', '/v1/operators/frank/rotation', { token: admin, body: { reason: 'r' } })).status).toBe(404);
    expect((await stack.call('POST', '/v1/operators', { token: admin, body: { name: 'frank', roles: ['approver'], reason: 'again' } })).status).toBe(409);
    expect((await auditOf('frank')).map((e) => [e.action, e.reason])).toEqual([
      ['operator.created', 'r'],
      ['operator.revoked', 'left the company'],
    ]);
    const last = await stack.call('POST', '/v1/operators/root/revocation', { token: admin, body: { reason: 'oops' } });
    expect(last.status, last.text).toBe(409);
    expect(last.json.detail).toMatch(/last active admin/);
  });

  it('only admins change operators; auditors read them; bad bodies are 400 and change nothing', async () => {
    expect((await stack.call('POST', '/v1/operators', { token: auditor, body: { name: 'gus', roles: ['admin'], reason: 'r' } })).status).toBe(403);
    expect((await stack.call('POST', '/v1/operators', { token: admin, body: { name: 'Gus!', roles: ['admin'], reason: 'r' } })).status).toBe(400);
    expect((await stack.call('POST', '/v1/operators', { token: admin, body: { name: 'gus', roles: ['root'], reason: 'r' } })).status).toBe(400);
    expect((await stack.call('POST', '/v1/operators', { token: admin, body: { name: 'gus', roles: ['admin'], reason: 'r', expiresInDays: 10_000 } })).status).toBe(400);
    expect((await inbox(auditor)).json.items.map((o: { name: string }) => o.name)).not.toContain('gus');
  });
});
