/**
 * The inbox's SQL mirrors the access rules (domain/access-rules.ts isWaitingOn: mayDecideStage,
 * mayRecertify, mayDecideExtension). This holds them together: for each operator, the inbox lists
 * exactly the partners the rule says wait on them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWaitingOn, mayDecideStage, operatorLabel, type OperatorFacts } from '../../domain/access-rules.js';
import type { Role } from '../../domain/partner-states.js';
import { pendingExtensionFacts } from '../../api/inbox.js';
import { partnerFacts } from '../../api/partner-view.js';
import { activePartner, decide, submit, waitForAction } from '../helpers/partners.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
const operators: Record<string, { roles: Role[]; token: string }> = {};
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

beforeAll(async () => {
  stack = await startStack({ policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [] } });
  const people: [string, Role[]][] = [
    ['alice', ['approver']],
    ['bob', ['approver']],
    ['carol', ['approver']],
    ['sec', ['security']],
    ['dual', ['approver', 'security']],
    ['aud', ['auditor']],
  ];
  for (const [name, roles] of people) operators[name] = { roles, token: await stack.operator(name, roles) };
  const token = (name: string) => operators[name]!.token;

  await submit(stack, { sponsor: 'alice' }); // stage 1, alice's
  const high = await submit(stack, { sponsor: 'alice', scopes: ['payments:read'] });
  expect((await decide(stack, high.partnerId, token('alice'), { decision: 'approve' })).status).toBe(200); // stage 2: security
  const dualHigh = await submit(stack, { sponsor: 'dual', scopes: ['payments:read'] });
  expect((await decide(stack, dualHigh.partnerId, token('dual'), { decision: 'approve' })).status).toBe(200); // stage 2, but not for dual
  const filed = await stack.call('POST', '/v1/partners', { token: token('carol'), body: { name: 'Filed', contactEmail: 'x@filed.example', sponsor: 'alice', environment: 'sandbox', scopes: ['orders:read'], justification: 'carol files it, alice sponsors it' } });
  expect(filed.status, filed.text).toBe(202);
  await waitForAction(stack, (filed.json as { partnerId: string }).partnerId, 'partner.submitted'); // carol filed it: alice's to decide, never carol's
  await submit(stack, { sponsor: 'bob', environment: 'production' });
  const extending = await activePartner(stack, { sponsor: token('bob') }, { sponsor: 'bob', accessUntil: inMinutes(10) });
  const ask = await stack.call('POST', `/v1/partners/${extending.partnerId}/extension`, { token: extending.requestToken, body: { accessUntil: inMinutes(30), reason: 'phase 2' } });
  expect(ask.status, ask.text).toBe(200); // an extension waits on bob
  // dual sponsors a high-risk grant and approves its extension's sponsor stage: the security stage is
  // then security's, never dual's (nobody approves two stages)
  const dualExtending = await activePartner(stack, { sponsor: token('dual'), security: token('sec') }, { sponsor: 'dual', scopes: ['payments:read'], accessUntil: inMinutes(10) });
  const dualAsk = await stack.call('POST', `/v1/partners/${dualExtending.partnerId}/extension`, { token: dualExtending.requestToken, body: { accessUntil: inMinutes(30), reason: 'phase 2' } });
  expect(dualAsk.status, dualAsk.text).toBe(200);
  expect((await decide(stack, dualExtending.partnerId, token('dual'), { decision: 'approve' })).status).toBe(200);
  await activePartner(stack, { sponsor: token('alice') }); // nothing waits
  const rejected = await submit(stack, { sponsor: 'bob' });
  expect((await decide(stack, rejected.partnerId, token('bob'), { decision: 'reject', reason: 'no' })).status).toBe(200);
});
afterAll(() => stack?.stop());

/** Every partner with the facts the rule needs, as the database tells them. */
async function everyPartner(operator: OperatorFacts) {
  const rows = await stack.db.selectFrom('partners').selectAll().execute();
  const mine = new Set(
    (await stack.db.selectFrom('decisions').select('partner_id').where('actor', '=', operatorLabel(operator)).where('kind', '=', 'approval').execute()).map((d) => d.partner_id),
  );
  return rows.map((row) => ({
    row,
    facts: { ...partnerFacts(row), approvedBy: mine.has(row.id) ? [operatorLabel(operator)] : [], pendingExtension: row.pending_extension !== null, ...pendingExtensionFacts(row.pending_extension) },
  }));
}

describe('the inbox is the access rule', () => {
  it('for every operator, the inbox lists exactly the partners isWaitingOn says wait on them', async () => {
    let listed = 0;
    for (const [name, { roles, token }] of Object.entries(operators)) {
      if (roles.includes('auditor')) continue; // the inbox is for approvers and security
      const operator = { name, roles };
      const res = await stack.call('GET', '/v1/inbox', { token });
      expect(res.status, res.text).toBe(200);
      const inbox = (res.json.items as { partnerId: string; kind: string }[]).map((i) => i.partnerId).sort();
      const partners = await everyPartner(operator);
      const waiting = partners.filter((p) => isWaitingOn(operator, p.facts)).map((p) => p.row.id).sort();
      expect(inbox, name).toEqual(waiting);
      // approval items pass mayDecideStage
      for (const p of partners.filter((p) => inbox.includes(p.row.id) && p.row.state === 'pending_approval')) {
        expect(mayDecideStage(operator, p.facts).ok, `${name} ${p.row.id}`).toBe(true);
      }
      listed += inbox.length;
    }
    expect(listed).toBeGreaterThanOrEqual(5); // the fixture puts real work in the inboxes
  });

  it('the cases the rule singles out', async () => {
    const ids = async (name: string) => ((await stack.call('GET', '/v1/inbox', { token: operators[name]!.token })).json.items as { partnerId: string; kind: string }[]);
    expect((await ids('carol')).length).toBe(0); // nothing of hers waits
    expect((await ids('alice')).length).toBe(2); // hers and the one carol filed for her
    expect((await ids('bob')).map((i) => i.kind).sort()).toEqual(['approval', 'extension']);
    expect((await ids('sec')).map((i) => i.kind).sort()).toEqual(['approval', 'approval', 'extension']); // both stage-2 requests, the extension's security stage
    expect((await ids('dual')).length).toBe(1); // not the one dual approved at stage 1, nor the extension dual approved as sponsor
  });
});
