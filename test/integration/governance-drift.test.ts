/**
 * The drift report (issue #16, item 1) against a real stack: grants approved under one policy are
 * held against a changed one — a scope that became high-risk without security's approval, a scope
 * gone from the catalogue, an end beyond the new maxAccess — and the route map and the environments
 * are checked beside them.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy, type Policy } from '../../config/policy.js';
import { activePartner } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let today: Policy | undefined;
const t: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({ appOverrides: { policy: () => today ?? stack.policy } });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.auditor = await stack.operator('aud', ['auditor']);
});
afterAll(async () => {
  await stack?.stop();
});

const drift = async (token = t.auditor!) => {
  const res = await stack.call('GET', '/v1/governance/drift', { token });
  expect(res.status, res.text).toBe(200);
  return res.json;
};

describe('drift report', () => {
  it('is for auditors, security and admins only', async () => {
    expect((await stack.call('GET', '/v1/governance/drift', { token: t.alice })).status).toBe(403);
    expect((await stack.call('GET', '/v1/governance/drift')).status).toBe(401);
    expect((await stack.call('GET', '/v1/governance/drift', { token: t.sec })).status).toBe(200);
  });

  it('finds nothing in grants made under today\'s policy, and names a catalogue scope no route needs', async () => {
    await activePartner(stack, { sponsor: t.alice! }, { name: 'Low Risk Ltd', scopes: ['orders:read'] });
    await activePartner(stack, { sponsor: t.alice!, security: t.sec! }, { name: 'High Risk Ltd', scopes: ['payments:read'] });
    const report = await drift();
    expect(report.policyVersion).toBe(stack.policy.version);
    expect(report.grants).toEqual([]);
    expect(report.routes).toEqual([{ rule: 'scope_without_route', detail: expect.stringContaining('webhooks:manage') }]);
    expect(report.environments.findings).toEqual([]);
    expect(report.environments.scopes).toContainEqual({ scope: 'orders:read', risk: 'low', sandbox: ['sponsor'], production: ['sponsor', 'security'] });
  });

  it('lists the grants a changed policy would not grant, each with its rule and the version it was checked against', async () => {
    const low = await activePartner(stack, { sponsor: t.alice! }, { name: 'Reports Ltd', scopes: ['reports:read', 'orders:read'] });
    const raw = JSON.parse(fs.readFileSync(stack.policyFile, 'utf8'));
    raw.scopes['orders:read'].risk = 'high'; // now needs security in sandbox
    delete raw.scopes['reports:read']; // gone from the catalogue (its route stays: a route drift)
    raw.environments.sandbox.maxAccess = '10s'; // every sandbox grant (1 hour) now ends too late
    raw.environments.sandbox.securityApproval = 'always';
    raw.environments.production.securityApproval = 'high-risk'; // production weaker than sandbox for low-risk scopes
    today = parsePolicy(raw);
    const report = await drift();
    expect(report.policyVersion).toBe(today.version);
    const grant = report.grants.find((g: { partnerId: string }) => g.partnerId === low.partnerId);
    expect(grant.policyVersion).toBe(stack.policy.version);
    expect(grant.findings.map((f: { rule: string }) => f.rule).sort()).toEqual(['beyond_max_access', 'scope_not_in_catalogue', 'security_stage_missing']);
    expect(grant.findings.find((f: { rule: string }) => f.rule === 'scope_not_in_catalogue').detail).toContain('reports:read');
    // the high-risk grant had security's approval: only the new maxAccess catches it
    const high = report.grants.find((g: { name: string }) => g.name === 'High Risk Ltd');
    expect(high.findings.map((f: { rule: string }) => f.rule)).toEqual(['beyond_max_access']);
    expect(report.routes).toContainEqual({ rule: 'route_scope_not_in_catalogue', detail: expect.stringContaining('GET /reports/') });
    expect(report.environments.findings.map((f: { detail: string }) => f.detail)).toContainEqual(expect.stringContaining('catalog:read: production needs sponsor, sandbox sponsor + security'));
  });
});
