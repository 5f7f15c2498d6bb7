/**
 * The drift report (issue #16, item 1) against a real stack: grants approved under one policy are
 * held against a changed one — a scope that became high-risk without security's approval, a scope
 * gone from the catalogue, an end beyond the new maxAccess — and the route map and the environments
 * are checked beside them.
 */
import fs from 'node:fs';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadPolicyFile, parsePolicy, type Policy } from '../../config/policy.js';
import { payloadDataConverter } from '../../runtime/payload-codec.js';
import { workflowIdFor } from '../../workflows/messages.js';
import { historiesOf } from '../helpers/histories.js';
import { activePartner, waitForAction, waitForState } from '../helpers/partners.js';
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

describe('recertification against today\'s policy', () => {
  let reviews: Stack;
  const rt = {} as Record<'alice' | 'sec' | 'aud', string>;
  beforeAll(async () => {
    // a review opens 6 s after activation and is due 24 s later; the API and the workflow both read the (changed) file
    reviews = await startStack({
      policyOverrides: { recertifyEvery: '30s', recertReminders: ['24s'], expiryWarnings: [] },
      appOverrides: { policy: () => loadPolicyFile(reviews.policyFile) },
    });
    rt.alice = await reviews.operator('alice', ['approver']);
    rt.sec = await reviews.operator('sec', ['security']);
    rt.aud = await reviews.operator('aud', ['auditor']);
  }, 120_000);
  afterAll(() => reviews?.stop());

  const answer = (partnerId: string, token: string, body: Record<string, unknown>) =>
    reviews.call('POST', `/v1/partners/${partnerId}/recertifications`, { token, body: { reason: 'still needed', ...body } });
  const rules = (findings: { rule: string }[]) => findings.map((f) => f.rule).sort();

  it('the reviewer sees the drift; a keep today\'s policy would not grant is refused with the way out, and the version recorded is the one checked', async () => {
    const gone = await activePartner(reviews, { sponsor: rt.alice }, { name: 'Reports Ltd', scopes: ['catalog:read', 'reports:read'] });
    const risky = await activePartner(reviews, { sponsor: rt.alice }, { name: 'Orders Ltd', scopes: ['orders:read'] });
    const before = reviews.policy.version;
    const raw = JSON.parse(fs.readFileSync(reviews.policyFile, 'utf8'));
    delete raw.scopes['reports:read']; // gone from the catalogue
    raw.scopes['orders:read'].risk = 'high'; // needs security now; the grant was approved without it
    fs.writeFileSync(reviews.policyFile, JSON.stringify(raw));
    const today = loadPolicyFile(reviews.policyFile).version;
    expect(today).not.toBe(before);

    for (const p of [gone, risky]) await waitForState(reviews, p.partnerId, 'recertification_due');
    // the review's notice and its audit event carry the drift the workflow found when it opened
    const opened = await waitForAction(reviews, gone.partnerId, 'recertification.opened');
    // (a scope the policy does not rate is not low-risk: requiredStages asks security for it too)
    const openedDrift = JSON.parse(opened!.details!).drift;
    expect(openedDrift.policyVersion).toBe(today);
    expect(rules(openedDrift.findings)).toEqual(['scope_not_in_catalogue', 'security_stage_missing']);
    // the reviewer's view: the grant against today's policy (the partner's own view does not show it)
    const view = await reviews.call('GET', `/v1/partners/${risky.partnerId}`, { token: rt.alice });
    expect(view.json.drift.policyVersion).toBe(today);
    expect(rules(view.json.drift.findings)).toEqual(['security_stage_missing']);
    // only security can keep it, so security hears of the review beside the sponsor
    const notice = await reviews.db.selectFrom('notifications').select('recipients').where('partner_id', '=', risky.partnerId).where('kind', '=', 'recertification.due').executeTakeFirstOrThrow();
    expect(JSON.parse(notice.recipients)).toEqual(['operator:alice', 'role:security']);
    expect((await reviews.call('GET', `/v1/partners/${risky.partnerId}`, { token: risky.apiKey })).json.drift).toBeUndefined();

    // a scope gone from the catalogue: keep refused, narrow to what remains allowed
    const keepGone = await answer(gone.partnerId, rt.alice, { decision: 'keep' });
    expect(keepGone.status, keepGone.text).toBe(409);
    expect(keepGone.json.detail).toContain('reports:read no longer in the catalogue');
    expect(keepGone.json.detail).toContain('narrow to catalog:read or revoke');
    const narrowed = await answer(gone.partnerId, rt.alice, { decision: 'narrow', scopes: ['catalog:read'] });
    expect(narrowed.status, narrowed.text).toBe(200);

    // a scope that became high-risk: the sponsor's keep is refused; security's keep is the missing stage
    const keepRisky = await answer(risky.partnerId, rt.alice, { decision: 'keep' });
    expect(keepRisky.status, keepRisky.text).toBe(409);
    expect(keepRisky.json.detail).toContain('requires the security stage for orders:read');
    expect(keepRisky.json.detail).toContain('have a security operator (not the sponsor) keep it');
    const kept = await answer(risky.partnerId, rt.sec, { decision: 'keep', reason: 'reviewed the order data flow' });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json.state).toBe('active');
    const decisions = await reviews.db.selectFrom('decisions').select(['kind', 'stage', 'actor']).where('partner_id', '=', risky.partnerId).where('kind', '=', 'recertification').execute();
    expect(decisions).toEqual([{ kind: 'recertification', stage: 'security', actor: 'operator:sec' }]);

    // both grants were checked against today's policy, and that is the version recorded
    for (const p of [gone, risky]) {
      const row = await reviews.db.selectFrom('partners').select(['policy_version', 'scopes']).where('id', '=', p.partnerId).executeTakeFirstOrThrow();
      expect(row.policy_version).toBe(today);
    }
    const keptEvent = await reviews.db.selectFrom('audit_events').select('details').where('partner_id', '=', risky.partnerId).where('action', '=', 'recertification.kept').executeTakeFirstOrThrow();
    expect(JSON.parse(keptEvent.details!)).toMatchObject({ policyVersion: today, securityStage: 'operator:sec', drift: [] });
    // and neither is drift any more
    const report = await reviews.call('GET', '/v1/governance/drift', { token: rt.aud });
    expect(report.json.grants.filter((g: { partnerId: string }) => [gone.partnerId, risky.partnerId].includes(g.partnerId))).toEqual([]);
    expect((await reviews.call('GET', `/v1/partners/${risky.partnerId}`, { token: rt.alice })).json.drift.findings).toEqual([]);
  });

  it('a policy changed after the review opened: the answer is checked against the policy it loads, not the one the review opened with', async () => {
    const p = await activePartner(reviews, { sponsor: rt.alice }, { name: 'Catalog Ltd', scopes: ['catalog:read'] });
    const firstRunId = (await reviews.client.workflow.getHandle(workflowIdFor(p.partnerId)).describe()).runId;
    const opened = await waitForAction(reviews, p.partnerId, 'recertification.opened');
    expect(JSON.parse(opened!.details!).drift.findings).toEqual([]);
    const raw = JSON.parse(fs.readFileSync(reviews.policyFile, 'utf8'));
    raw.scopes['catalog:read'].risk = 'high';
    fs.writeFileSync(reviews.policyFile, JSON.stringify(raw));
    const today = loadPolicyFile(reviews.policyFile).version;
    // the validator passes it (the review opened under the old rating); the workflow's check at dequeue refuses it
    const keep = await answer(p.partnerId, rt.alice, { decision: 'keep' });
    expect(keep.status, keep.text).toBe(409);
    expect(keep.json.detail).toContain(`policy ${today} requires the security stage for catalog:read`);
    expect((await reviews.db.selectFrom('partners').select('state').where('id', '=', p.partnerId).executeTakeFirstOrThrow()).state).toBe('recertification_due');
    const kept = await answer(p.partnerId, rt.sec, { decision: 'keep' });
    expect(kept.status, kept.text).toBe(200);
    expect((await reviews.db.selectFrom('partners').select('policy_version').where('id', '=', p.partnerId).executeTakeFirstOrThrow()).policy_version).toBe(today);

    // the runs that served the refusal and security's keep replay with the bundle the workers run
    const workflowBundle = { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
    const runs = (await historiesOf(reviews.client, p.partnerId, firstRunId)).map((r) => ({ workflowId: workflowIdFor(p.partnerId), history: r.history }));
    const errors: unknown[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle, dataConverter: payloadDataConverter(reviews.payloadKeyring), replayName: 'recert-drift' }, runs)) errors.push(result.error);
    expect(errors).toEqual(runs.map(() => undefined));
  });
});
