/**
 * The operator console (issue #15) in a real Chromium against the real app, a real worker and the
 * Temporal dev server: the sponsor and security approve from their inboxes, a reviewer keeps a
 * recertification with the usage evidence in front of them, security contains a scope after a dry
 * run (exactly the previewed partners lose their keys), forms show the API's messages next to
 * their fields and keep what was typed, and a page for a role the operator lacks is a 403 page.
 * Partners are seeded through the JSON API. Screenshots land in docs/screenshots/console-*.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startStack, eventually, type Stack } from '../helpers/stack.js';
import { serveApp } from '../helpers/gateway.js';
import { launchBrowser } from '../helpers/browser.js';
import { activePartner, partnerRow, submit, waitForAction, waitForState } from '../helpers/partners.js';
import { loadPolicyFile } from '../../config/policy.js';
import { reviewsWaitingForSecurity } from '../../api/inbox.js';

let stack: Stack;
let server: Awaited<ReturnType<typeof serveApp>>;
let browser: Browser;
let base: string;
const t = {} as { alice: string; sam: string; aud: string; gw: string; bob: string; ada: string };

const screenshots = path.resolve(import.meta.dirname, '../../docs/screenshots');

beforeAll(async () => {
  // Approvals wait for people clicking (minutes); a review opens 4 s after each certification and
  // is due a minute later, so no partner is suspended for a late answer while the file runs (a
  // suspended partner's keys are refused, which the revocation tests must not mistake for theirs).
  stack = await startStack({
    policyOverrides: {
      approvalTimeout: '5 minutes',
      escalateAfter: '4 minutes',
      approvalReminders: ['3 minutes'],
      recertifyEvery: '64s',
      recertReminders: ['60s'],
      suspendedGrace: '60s',
      // an approver may grant either tier (the default stays standard)
      rateLimitTiers: { standard: { requests: 5, window: '2s' }, elevated: { requests: 50, window: '2s' } },
      approverRateLimitTiers: ['standard', 'elevated'],
    },
  });
  server = await serveApp(stack);
  base = `http://127.0.0.1:${server.port}`;
  browser = await launchBrowser();
  t.alice = await stack.operator('alice', ['approver']);
  t.sam = await stack.operator('sam', ['security']);
  t.aud = await stack.operator('audrey', ['auditor']);
  t.gw = await stack.operator('edge', ['gateway']);
  t.bob = await stack.operator('bob', ['approver']);
  t.ada = await stack.operator('ada', ['admin']);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await stack?.stop();
});

async function signIn(token: string, at = base): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${at}/console/sign-in`);
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // signed in: on the first console page this operator may open
  expect(new URL(page.url()).pathname).toMatch(/^\/console(\/partners)?$/);
  // forms that end something ask once more (data-confirm): the tests answer yes
  page.on('dialog', (dialog) => void dialog.accept());
  return page;
}

const introspect = async (key: string, scope?: string) =>
  (await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: key, ...(scope ? { scope } : {}) } })).json as { active: boolean; scopes?: string[] };

async function shot(page: Page, name: string, fullPage = true) {
  fs.mkdirSync(screenshots, { recursive: true });
  const file = path.join(screenshots, `console-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  expect(fs.statSync(file).size).toBeLessThan(300 * 1024);
}

describe('approver inbox', () => {
  it('the sponsor approves stage 1 in the console, security approves stage 2, and the key is issued', async () => {
    const { partnerId } = await submit(stack, {
      name: 'Northwind Payments',
      scopes: ['orders:read', 'payments:read'],
      justification: 'Reconcile captured payments against orders every night',
    });
    const alice = await signIn(t.alice);
    const item = alice.locator('section.card', { has: alice.getByRole('heading', { name: 'Northwind Payments' }) });
    await expect.poll(() => item.count()).toBe(1);
    const card = await item.innerText();
    expect(card).toContain('Reconcile captured payments against orders every night');
    expect(card).toContain('payments:read');
    expect(card).toContain('high risk');
    expect(card).toContain('sponsor stage');
    await shot(alice, 'inbox');

    await item.getByRole('link', { name: /Decide on/ }).click();
    // the form names the stage it shows: decided meanwhile by another, it would be refused, not spent on the next
    expect(await alice.locator('input[name=stage]').inputValue()).toBe('sponsor');
    await alice.getByLabel('Reason').fill('contract signed, DPA in place');
    await alice.getByRole('button', { name: 'Approve' }).click();
    expect(new URL(alice.url()).pathname).toBe('/console');
    expect(await alice.locator('.flash.ok').innerText()).toContain('Approved');
    // decided: gone from the sponsor's inbox
    expect(await alice.getByRole('heading', { name: 'Northwind Payments' }).count()).toBe(0);
    expect((await partnerRow(stack, partnerId)).stage).toBe('security');

    const sam = await signIn(t.sam);
    const second = sam.locator('section.card', { has: sam.getByRole('heading', { name: 'Northwind Payments' }) });
    const facts = await second.innerText();
    expect(facts).toContain('security stage');
    // who approved the earlier stage, with their note
    expect(facts).toMatch(/alice, .*contract signed, DPA in place/);
    await second.getByRole('link', { name: /Decide on/ }).click();
    expect(await sam.locator('input[name=stage]').inputValue()).toBe('security');
    await sam.getByLabel('Reason').fill('payments scope reviewed');
    await sam.getByRole('button', { name: 'Approve' }).click();
    expect(await sam.locator('.flash.ok').innerText()).toContain('Approved');
    await waitForState(stack, partnerId, 'active');
    await waitForAction(stack, partnerId, 'credential.issued');

    // the partner's page shows the issued key by prefix, never the key
    await sam.goto(`${base}/console/partners/${partnerId}`);
    const keys = await sam.locator('table.keys').innerText();
    expect(keys).toMatch(/pak_test_/);
    expect(keys).toContain('never');
    await alice.context().close();
    await sam.context().close();
  });

  it('shows the API’s message next to the field and keeps what was typed; nothing is decided', async () => {
    const { partnerId } = await submit(stack, { name: 'Contoso Reports', scopes: ['reports:read', 'orders:read'] });
    const alice = await signIn(t.alice);
    await alice.goto(`${base}/console/decisions/${partnerId}`);
    // every scope unticked: the API refuses an empty grant
    await alice.getByLabel('reports:read').uncheck();
    await alice.getByLabel('orders:read').uncheck();
    await alice.getByLabel('Reason').fill('narrowing to nothing by mistake');
    await alice.getByRole('button', { name: 'Approve' }).click();
    expect(new URL(alice.url()).pathname).toBe(`/console/decisions/${partnerId}`);
    const fieldset = alice.locator('fieldset.field.invalid');
    expect(await fieldset.locator('.field-error').innerText()).toMatch(/at least 1|too small|>=1/i);
    expect(await alice.getByLabel('Reason').inputValue()).toBe('narrowing to nothing by mistake');
    expect(await alice.locator('[role=alert]').first().innerText()).toContain('not accepted');

    // text the API refuses (a bidi override) is named next to the reason, the other fields kept
    await alice.getByLabel('orders:read').check();
    await alice.getByLabel('Reason').fill('fine \u202e by me');
    await alice.getByRole('button', { name: 'Approve' }).click();
    expect(await alice.locator('#reason-error').innerText()).toMatch(/U\+202E|format|character/i);
    expect(await alice.getByLabel('orders:read').isChecked()).toBe(true);
    expect(await alice.getByLabel('reports:read').isChecked()).toBe(false);
    expect((await partnerRow(stack, partnerId)).stage).toBe('sponsor');
    await alice.context().close();
  });
});

describe('rate tier at approval', () => {
  it('offers the tiers the policy lets an approver grant, the default first chosen; the tier granted is the partner’s', async () => {
    const { partnerId, requestToken } = await submit(stack, { name: 'Adatum Feeds', scopes: ['catalog:read'] });
    const alice = await signIn(t.alice);
    await alice.goto(`${base}/console/decisions/${partnerId}`);
    const tier = alice.getByLabel('Rate limit tier');
    expect(await tier.inputValue()).toBe('standard');
    expect(await tier.locator('option').allInnerTexts()).toEqual(['standard: 5 requests per 2 seconds (the policy’s default)', 'elevated: 50 requests per 2 seconds']);
    await tier.selectOption('elevated');
    await alice.getByLabel('Reason').fill('a nightly bulk sync needs the higher rate');
    await alice.getByRole('button', { name: 'Approve' }).click();
    expect(await alice.locator('.flash.ok').innerText()).toContain('Approved');
    await waitForState(stack, partnerId, 'active');
    expect((await partnerRow(stack, partnerId)).rate_limit_tier).toBe('elevated');
    // the gateway enforces it: introspection answers the granted tier's limit
    const pickup = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
    const verdict = (await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: pickup.json.apiKey } })).json as { rateLimit: { tier: string; requests: number } };
    expect(verdict.rateLimit).toMatchObject({ tier: 'elevated', requests: 50 });
    await alice.context().close();
  });
});

describe('roles', () => {
  it('a page for a role the operator lacks is a 403 page, and its form posts are refused too', async () => {
    const alice = await signIn(t.alice);
    const security = await alice.goto(`${base}/console/security`);
    expect(security!.status()).toBe(403);
    expect(await alice.locator('h1').innerText()).toBe('Forbidden');
    expect(await alice.locator('main').innerText()).toContain('security');
    expect((await alice.goto(`${base}/console/audit`))!.status()).toBe(403);

    const audrey = await signIn(t.aud);
    expect((await audrey.goto(`${base}/console/recertifications`))!.status()).toBe(403);
    expect((await audrey.goto(`${base}/console/decisions/AAAAAAAAAAAA`))!.status()).toBe(403);
    expect((await audrey.goto(`${base}/console/audit`))!.status()).toBe(200);
    // a post with a valid session and CSRF token, but the wrong role: refused before anything runs
    const cookies = await audrey.context().cookies();
    const csrf = cookies.find((c) => c.name === 'pa_csrf')!.value;
    const posted = await audrey.context().request.post(`${base}/console/security/containment/confirm`, {
      form: { _csrf: csrf, scope: 'orders:read', reason: 'not mine to do', partnerIds: 'AAAAAAAAAAAA' },
      maxRedirects: 0,
    });
    expect(posted.status()).toBe(403);
    await alice.context().close();
    await audrey.context().close();
  });
});

describe('recertification queue', () => {
  it('a reviewer keeps a recertification, with last use per key and the scopes never used in front of them', async () => {
    const { partnerId, apiKey } = await activePartner(
      stack,
      { sponsor: t.alice, security: t.sam },
      { name: 'Fabrikam Shipping', scopes: ['orders:read', 'catalog:read', 'webhooks:manage'], justification: 'Ship orders' },
    );
    // the key is used for one scope only: the evidence says the other two were never used
    expect((await introspect(apiKey, 'orders:read')).active).toBe(true);
    await eventually(async () => (await stack.db.selectFrom('credentials').select('last_used_at').where('partner_id', '=', partnerId).executeTakeFirst())?.last_used_at);
    await waitForState(stack, partnerId, 'recertification_due', 30_000);

    const alice = await signIn(t.alice);
    await alice.goto(`${base}/console/recertifications`);
    const card = alice.locator('section.card', { has: alice.getByRole('heading', { name: 'Fabrikam Shipping' }) });
    const evidence = await card.innerText();
    expect(evidence).toMatch(/pak_test_/);
    const neverUsed = await card.locator('ul.never-used').innerText();
    expect(neverUsed).toContain('catalog:read');
    expect(neverUsed).toContain('webhooks:manage');
    expect(neverUsed).not.toContain('orders:read');
    await shot(alice, 'recertifications');

    await card.getByRole('link', { name: /Review/ }).click();
    // the form names the review it shows (a form left open across a cycle is refused, not spent on the next)
    expect(await alice.locator('input[name=cycle]').inputValue()).toBe('0');
    await alice.getByLabel('Reason').fill('still shipping with them');
    await alice.getByRole('button', { name: 'Keep' }).click();
    expect(new URL(alice.url()).pathname).toBe('/console/recertifications');
    expect(await alice.locator('.flash.ok').innerText()).toContain('Kept');
    await waitForAction(stack, partnerId, 'recertification.kept');
    const kept = await stack.db.selectFrom('recertifications').selectAll().where('partner_id', '=', partnerId).executeTakeFirstOrThrow();
    expect(kept).toMatchObject({ decision: 'keep', actor: 'operator:alice', reason: 'still shipping with them' });
    expect((await introspect(apiKey)).active).toBe(true);
    await alice.context().close();
  });
});

describe('security', () => {
  it('bulk-revokes exactly the partners the dry run listed; their keys are refused at introspection', async () => {
    const a = await activePartner(stack, { sponsor: t.alice, security: t.sam }, { name: 'Litware Analytics', scopes: ['customers:read'] });
    const b = await activePartner(stack, { sponsor: t.alice, security: t.sam }, { name: 'Tailspin Data', scopes: ['customers:read', 'orders:read'] });
    const other = await activePartner(stack, { sponsor: t.alice }, { name: 'Wingtip Toys', scopes: ['orders:read'] });

    const sam = await signIn(t.sam);
    await sam.goto(`${base}/console/security`);
    await sam.getByLabel('Scope').selectOption('customers:read');
    await sam.locator('#bulkReason').fill('customer data export abused');
    await sam.getByRole('button', { name: 'Show who would be cut off' }).click();
    const listed = await sam.locator('table.dry-run').innerText();
    expect(listed).toContain('Litware Analytics');
    expect(listed).toContain('Tailspin Data');
    expect(listed).not.toContain('Wingtip Toys');
    // a dry run changes nothing
    expect((await introspect(a.apiKey)).active).toBe(true);
    await shot(sam, 'bulk-dry-run');

    // a partner that starts holding the scope after the preview is not swept in by the confirm
    const late = await activePartner(stack, { sponsor: t.alice, security: t.sam }, { name: 'Late Holder', scopes: ['customers:read'] });
    await sam.getByRole('button', { name: /Revoke these 2 partners/ }).click();
    expect(new URL(sam.url()).pathname).toBe('/console/security');
    expect(await sam.locator('.flash.ok').innerText()).toContain('(2)');

    expect((await introspect(a.apiKey)).active).toBe(false);
    expect((await introspect(b.apiKey)).active).toBe(false);
    expect((await introspect(other.apiKey)).active).toBe(true);
    expect((await introspect(late.apiKey)).active).toBe(true);
    await waitForState(stack, a.partnerId, 'revoked');
    const revocation = await waitForAction(stack, b.partnerId, 'partner.revocation_requested');
    expect(revocation).toMatchObject({ actor: 'operator:sam', reason: 'customer data export abused' });
    await sam.context().close();
  });

  it('revokes one partner at once; an unknown id is said next to the field', async () => {
    const p = await activePartner(stack, { sponsor: t.alice }, { name: 'Adventure Works', scopes: ['catalog:read'] });
    const sam = await signIn(t.sam);
    await sam.goto(`${base}/console/security`);
    await sam.locator('#partnerId').fill('NoSuchPartner1');
    await sam.locator('#reason').fill('key posted publicly');
    await sam.getByRole('button', { name: 'Revoke now' }).click();
    expect(await sam.locator('#partnerId-error').innerText()).toContain('no such partner');
    expect(await sam.locator('#reason').inputValue()).toBe('key posted publicly');

    await sam.goto(`${base}/console/partners/${p.partnerId}`);
    await sam.getByRole('link', { name: /Emergency revocation/ }).click();
    expect(await sam.locator('#partnerId').inputValue()).toBe(p.partnerId);
    await sam.locator('#reason').fill('key posted publicly');
    await sam.getByRole('button', { name: 'Revoke now' }).click();
    expect(new URL(sam.url()).pathname).toBe(`/console/partners/${p.partnerId}`);
    expect(await sam.locator('.flash.ok').innerText()).toContain('Revoked');
    expect((await introspect(p.apiKey)).active).toBe(false);
    await sam.context().close();
  });
});

describe('governance', () => {
  it('security suspends and resumes a partner; its key is refused meanwhile', async () => {
    const p = await activePartner(stack, { sponsor: t.alice }, { name: 'Proseware Billing', scopes: ['catalog:read'] });
    const sam = await signIn(t.sam);
    await sam.goto(`${base}/console/security`);
    await sam.locator('#suspendId').fill(p.partnerId);
    await sam.locator('#suspendReason').fill('unusual traffic, investigating');
    await sam.getByRole('button', { name: 'Suspend', exact: true }).click();
    expect(new URL(sam.url()).pathname).toBe(`/console/partners/${p.partnerId}`);
    expect(await sam.locator('.flash.ok').innerText()).toContain('Suspended');
    expect((await introspect(p.apiKey)).active).toBe(false);

    await sam.goto(`${base}/console/security`);
    await sam.locator('#suspendId').fill(p.partnerId);
    await sam.locator('#suspendReason').fill('false alarm');
    await sam.getByRole('button', { name: 'Resume', exact: true }).click();
    expect(await sam.locator('.flash.ok').innerText()).toContain('Resumed');
    expect((await introspect(p.apiKey)).active).toBe(true);
    await sam.context().close();
  });

  it('an admin hands a partner to another sponsor; a successor who is no approver is refused next to the field', async () => {
    const p = await activePartner(stack, { sponsor: t.alice }, { name: 'Trey Research', scopes: ['catalog:read'] });
    const ada = await signIn(t.ada);
    await ada.goto(`${base}/console/partners/${p.partnerId}`);
    await ada.getByLabel('New sponsor').fill('edge');
    await ada.locator('#reason').fill('alice moved teams');
    await ada.getByRole('button', { name: 'Hand over' }).click();
    expect(await ada.locator('#sponsor-error').innerText()).toContain('not an active approver');
    expect(await ada.locator('#reason').inputValue()).toBe('alice moved teams');
    await ada.getByLabel('New sponsor').fill('bob');
    await ada.getByRole('button', { name: 'Hand over' }).click();
    expect(await ada.locator('.flash.ok').innerText()).toContain('Handed over');
    expect((await partnerRow(stack, p.partnerId)).sponsor).toBe('bob');
    await ada.context().close();
  });
});

describe('auditor', () => {
  it('shows the trail with filters, the chain check, and an NDJSON export that works with the session', async () => {
    const { partnerId } = await submit(stack, { name: 'Audited Co', scopes: ['orders:read'] });
    const audrey = await signIn(t.aud);
    await audrey.goto(`${base}/console/audit`);
    expect(await audrey.locator('.chain').innerText()).toContain('The chain is intact');
    // the whole trail, as far as the window shows it
    await shot(audrey, 'audit', false);

    await audrey.getByLabel('Partner id').fill(partnerId);
    await audrey.getByRole('button', { name: 'Filter' }).click();
    const rows = await audrey.locator('table.audit tbody tr').allInnerTexts();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toContain(partnerId);
    expect(rows.join('\n')).toContain('partner.submitted');

    const href = await audrey.getByRole('link', { name: 'Export NDJSON' }).getAttribute('href');
    const exported = await audrey.context().request.get(`${base}${href}`);
    expect(exported.status()).toBe(200);
    expect(exported.headers()['content-type']).toContain('application/x-ndjson');
    const lines = (await exported.text()).trim().split('\n').map((l) => JSON.parse(l) as { partnerId: string; hash: string });
    expect(lines.length).toBe(rows.length);
    expect(lines.every((e) => e.partnerId === partnerId && /^[0-9a-f]{64}$/.test(e.hash))).toBe(true);
    // without a session the export is not served (sent to sign in)
    const anonymous = await fetch(`${base}${href}`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);

    // a bad filter: the message next to the field, the value kept
    await audrey.goto(`${base}/console/audit?afterSeq=soon`);
    expect(await audrey.locator('#afterSeq-error').innerText()).not.toBe('');
    expect(await audrey.getByLabel('After event number').inputValue()).toBe('soon');
    await audrey.context().close();
  });
});

describe('policy drift at recertification', () => {
  // A stack of its own: the test changes the policy file, which the app and the worker read anew,
  // and the other tests keep theirs. A review opens 6 s after activation and is due 24 s later.
  let drift: Stack;
  let driftServer: Awaited<ReturnType<typeof serveApp>>;
  let at: string;
  const dt = {} as Record<'alice' | 'sec' | 'dual', string>;
  beforeAll(async () => {
    drift = await startStack({
      policyOverrides: { recertifyEvery: '30s', recertReminders: ['24s'], expiryWarnings: [] },
      appOverrides: { policy: () => loadPolicyFile(drift.policyFile) },
    });
    driftServer = await serveApp(drift);
    at = `http://127.0.0.1:${driftServer.port}`;
    dt.alice = await drift.operator('alice', ['approver']);
    dt.sec = await drift.operator('sec', ['security']);
    dt.dual = await drift.operator('dual', ['approver', 'security']);
  }, 120_000);
  afterAll(async () => {
    await driftServer?.close();
    await drift?.stop();
  });

  it('with no tier for an approver to choose, the decision form offers none', async () => {
    const { partnerId } = await submit(drift, { name: 'Proseware Pending', scopes: ['catalog:read'] });
    const alice = await signIn(dt.alice, at);
    await alice.goto(`${at}/console/decisions/${partnerId}`);
    expect(await alice.getByLabel('Reason').count()).toBe(1);
    expect(await alice.getByLabel('Rate limit tier').count()).toBe(0);
    await alice.context().close();
  });

  it('security finds the reviews only it can keep in its inbox, with the drift, and keeps one from there', async () => {
    // the plain one first: its review comes due first, ahead of the drifted one in security's list
    const plain = await activePartner(drift, { sponsor: dt.alice }, { name: 'Proseware Catalog', scopes: ['catalog:read'] });
    const risky = await activePartner(drift, { sponsor: dt.alice }, { name: 'Proseware Orders', scopes: ['orders:read'] });
    // orders:read becomes high-risk: the grant was approved without the security stage today's policy requires
    const raw = JSON.parse(fs.readFileSync(drift.policyFile, 'utf8'));
    raw.scopes['orders:read'].risk = 'high';
    fs.writeFileSync(drift.policyFile, JSON.stringify(raw));
    for (const p of [risky, plain]) await waitForState(drift, p.partnerId, 'recertification_due', 30_000);

    // the sponsor sees the drift on the review page, and its keep is refused with the way out
    const alice = await signIn(dt.alice, at);
    await alice.goto(`${at}/console/recertifications/${risky.partnerId}`);
    expect(await alice.locator('.drift').innerText()).toContain('requires the security stage');
    await alice.getByLabel('Reason').fill('still needed');
    await alice.getByRole('button', { name: 'Keep' }).click();
    expect(await alice.locator('[role=alert]').first().innerText()).toContain('have a security operator (not the sponsor) keep it');

    // security's inbox lists the review only it can answer, with the finding; a review without drift stays the sponsor's
    const sec = await signIn(dt.sec, at);
    const card = sec.locator('section.card', { has: sec.getByRole('heading', { name: 'Proseware Orders' }) });
    await expect.poll(() => card.count()).toBe(1);
    const facts = await card.innerText();
    expect(facts).toContain('recertification, security stage');
    expect(facts).toContain("today's policy requires the security stage for these scopes");
    expect(await sec.getByRole('heading', { name: 'Proseware Catalog' }).count()).toBe(0);
    // the JSON inbox says the same
    const inbox = await drift.call('GET', '/v1/inbox', { token: dt.sec });
    expect(inbox.json.items.map((i: { partnerId: string; kind: string; stage: string | null }) => [i.partnerId, i.kind, i.stage])).toEqual([[risky.partnerId, 'recertification', 'security']]);
    // the due reviews are looked at page by page: a drifted one behind a page of undrifted ones is still found
    const onePerPage = await reviewsWaitingForSecurity({ db: drift.db, policy: () => loadPolicyFile(drift.policyFile) }, { name: 'sec', roles: ['security'] }, 1);
    expect(onePerPage.map((i) => i.partner.id)).toEqual([risky.partnerId]);
    // an approver who is also security owes no review as sponsor here: the security stage is not in their queue
    const dual = await signIn(dt.dual, at);
    await dual.goto(`${at}/console/recertifications`);
    expect(await dual.locator('p.hint').first().innerText()).toContain('Reviews you owe as sponsor');
    expect(await dual.getByRole('heading', { name: 'Proseware Orders' }).count()).toBe(0);
    await dual.goto(`${at}/console`);
    expect(await dual.getByRole('heading', { name: 'Proseware Orders' }).count()).toBe(1);
    await dual.context().close();
    await shot(sec, 'inbox-drift');

    await card.getByRole('link', { name: /Review/ }).click();
    expect(await sec.locator('.drift').innerText()).toContain('requires the security stage');
    await sec.getByLabel('Reason').fill('reviewed the order data flow');
    await sec.getByRole('button', { name: 'Keep' }).click();
    expect(new URL(sec.url()).pathname).toBe('/console');
    expect(await sec.locator('.flash.ok').innerText()).toContain('Kept');
    await waitForState(drift, risky.partnerId, 'active');
    const decisions = await drift.db.selectFrom('decisions').select(['kind', 'stage', 'actor']).where('partner_id', '=', risky.partnerId).where('kind', '=', 'recertification').execute();
    expect(decisions).toEqual([{ kind: 'recertification', stage: 'security', actor: 'operator:sec' }]);
    // answered: no longer waiting for security
    expect(await sec.getByRole('heading', { name: 'Proseware Orders' }).count()).toBe(0);
    await alice.context().close();
    await sec.context().close();
  });
});
