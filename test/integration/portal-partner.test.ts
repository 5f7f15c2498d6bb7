/**
 * The partner's developer portal (issue #15) in a real Chromium against the real app on a socket,
 * with a real worker and a real nginx gateway: the catalogue without JavaScript, the request form
 * (bad input first), the request token shown once and the browser signed in with it, the status
 * page, the key picked up once, the key working through the gateway, rotation, extension and
 * offboarding; and /docs rendering the OpenAPI document with Swagger UI under a 'self'-only CSP.
 * No page may put a token or key into a URL or a log line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { eventually, startStack, type Stack } from '../helpers/stack.js';
import { serveApp, startGatewayFor } from '../helpers/gateway.js';
import { launchBrowser } from '../helpers/browser.js';
import { decide, waitForState } from '../helpers/partners.js';

let stack: Stack;
let server: Awaited<ReturnType<typeof serveApp>>;
let edge: Awaited<ReturnType<typeof startGatewayFor>>;
let browser: Browser;
let base: string;
const t: Record<string, string> = {};
const screenshots = path.resolve(import.meta.dirname, '../../docs/screenshots');

beforeAll(async () => {
  stack = await startStack({
    // human-scale deadlines: a browser walk takes seconds, the fast policy's approval timeout is 6 s
    policyOverrides: {
      maxAccess: '30 days',
      approvalTimeout: '10 minutes',
      approvalReminders: ['5 minutes'],
      escalateAfter: '8 minutes',
      recertifyEvery: '20 days',
      recertReminders: ['1 day'],
      rotationOverlap: '1 hour',
    },
  });
  t.alice = await stack.operator('portal-alice', ['approver']);
  t.gw = await stack.operator('portal-gw', ['gateway']);
  server = await serveApp(stack);
  base = `http://127.0.0.1:${server.port}`;
  edge = await startGatewayFor(stack, t.gw);
  browser = await launchBrowser();
  fs.mkdirSync(screenshots, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await edge?.stop();
  await server?.close();
  await stack?.stop();
});

/** A browser context that records every URL it visits, so a test can assert no secret ever was in one. */
async function partnerBrowser(options: Parameters<Browser['newContext']>[0] = {}) {
  const context = await browser.newContext(options);
  const urls: string[] = [];
  context.on('request', (request) => urls.push(request.url()));
  const page = await context.newPage();
  // forms with data-confirm ask once more: the partner says yes
  page.on('dialog', (dialog) => void dialog.accept());
  return { context, page, urls };
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(screenshots, `portal-${name}.png`), fullPage: true });
const partnerCount = async () => Number((await stack.db.selectFrom('partners').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const throughGateway = (key: string) => fetch(`${edge.gateway.url}/orders/1`, { headers: { 'x-api-key': key } });
const dateIn = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

/** No visited URL and no log line of the server ever held the secret. */
function expectNowhere(secret: string, urls: string[]) {
  expect(urls.filter((u) => u.includes(secret))).toEqual([]);
  expect(stack.logLines.filter((l) => l.includes(secret))).toEqual([]);
}

describe('the API catalogue', () => {
  it('lists scopes with risk, description and gateway routes, and the environments, without JavaScript', async () => {
    const { context, page } = await partnerBrowser({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/portal`);
    expect(await page.locator('h1').innerText()).toBe('API catalogue');
    const orders = page.locator('tr', { has: page.locator('th code', { hasText: /^orders:read$/ }) });
    await expect.poll(() => orders.innerText()).toContain('low risk');
    expect(await orders.innerText()).toContain('Read orders placed through the partner');
    expect(await orders.innerText()).toContain('GET /orders/');
    const payments = page.locator('tr', { has: page.locator('th code', { hasText: /^payments:write$/ }) });
    expect(await payments.innerText()).toContain('high risk');
    expect(await payments.innerText()).toContain('POST /payments/');
    const production = await page.locator('section.card', { has: page.locator('h3', { hasText: 'production' }) }).innerText();
    expect(production).toContain('30 days');
    expect(production).toContain('always');
    expect(production).toMatch(/standard: 5 requests per 2 seconds/);
    await shot(page, 'catalogue');
    await context.close();
  });
});

describe('a partner, from the request form to a working key', () => {
  it('requests access (bad input first), lands on its status page, picks the key up once, uses and rotates it', async () => {
    const { context, page, urls } = await partnerBrowser({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/portal/request`);
    // every control has a label, and the first Tab reaches the skip link
    const unlabelled = await page.locator('input:not([type=hidden]), select, textarea').evaluateAll((els) => els.filter((el) => (el as unknown as { labels: ArrayLike<unknown> | null }).labels?.length === 0).map((el) => el.outerHTML));
    expect(unlabelled).toEqual([]);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Skip to content');

    // --- bad input: the API's messages next to the fields, what was typed kept, nothing created
    const before = await partnerCount();
    await page.getByLabel('Application name').fill('Acme Portal App');
    await page.getByLabel('Contact e-mail').fill('not-an-address');
    await page.getByLabel('Sponsor').fill('portal-alice');
    await page.getByLabel('Justification').fill('Sync orders into the Acme dashboard');
    // the browser's own checks would stop the post before the server sees it; the server's are the ones under test
    await page.locator('#request-form').evaluate((form) => form.setAttribute('novalidate', ''));
    await page.getByRole('button', { name: 'Request access' }).click();
    await page.waitForLoadState();
    expect(await page.locator('#contactEmail-error').innerText()).toContain('not an e-mail address');
    expect(await page.locator('#scopes-error').innerText()).toMatch(/>=1|at least/i);
    expect(await page.getByLabel('Application name').inputValue()).toBe('Acme Portal App');
    expect(await page.getByLabel('Contact e-mail').inputValue()).toBe('not-an-address');
    expect(await page.getByLabel('Justification').inputValue()).toBe('Sync orders into the Acme dashboard');
    expect(await page.locator('#contactEmail').getAttribute('aria-invalid')).toBe('true');
    expect(await partnerCount()).toBe(before);
    await shot(page, 'request-errors');

    // a semantic refusal (a sponsor who is no approver) lands next to its field too, checked scopes kept
    await page.getByLabel('Contact e-mail').fill('dev@acme.example');
    await page.getByLabel('Sponsor').fill('nobody-here');
    await page.getByLabel(/^orders:read/).check();
    await page.getByRole('button', { name: 'Request access' }).click();
    await page.waitForLoadState();
    expect(await page.locator('#sponsor-error').innerText()).toContain('is not an active approver');
    expect(await page.getByLabel(/^orders:read/).isChecked()).toBe(true);
    expect(await partnerCount()).toBe(before);

    // --- a valid request: the token shown once, the browser signed in with it
    await page.getByLabel('Sponsor').fill('portal-alice');
    await page.getByLabel('Access until (optional)').fill(dateIn(10));
    await page.getByRole('button', { name: 'Request access' }).click();
    await page.waitForLoadState();
    const requestToken = (await page.locator('#request-token').innerText()).trim();
    expect(requestToken).toMatch(/^prt_/);
    expect(await page.locator('.warning').innerText()).toContain('shown only this once');
    expect(await page.locator('button[data-copy="request-token"]').count()).toBe(1);
    expect(await partnerCount()).toBe(before + 1);
    const { partnerId } = (await stack.db.selectFrom('partners').select('id as partnerId').where('name', '=', 'Acme Portal App').executeTakeFirstOrThrow());

    await page.getByRole('link', { name: 'see the status of your request' }).click();
    expect(new URL(page.url()).pathname).toBe('/portal/access');
    expect(await page.locator('#state').innerText()).toBe('Waiting for approval');
    expect(await page.locator('dl.facts').innerText()).toContain('your sponsor (portal-alice)');
    // the token is not on the status page: it was shown once
    expect(await page.content()).not.toContain(requestToken);
    await shot(page, 'status');

    // --- the sponsor approves (the console's own tests drive that page); the key waits for its pickup
    const approved = await decide(stack, partnerId, t.alice!, { decision: 'approve' });
    expect(approved.status, approved.text).toBe(200);
    await waitForState(stack, partnerId, 'active');
    await eventually(async () => {
      await page.goto(`${base}/portal/access`);
      return (await page.getByRole('button', { name: 'Pick up my API key' }).count()) === 1;
    });
    const [pickupResponse] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/portal/access/pickup'),
      page.getByRole('button', { name: 'Pick up my API key' }).click(),
    ]);
    await page.waitForLoadState();
    // the one answer that holds the key is never kept by a cache
    expect(pickupResponse.headers()['cache-control']).toBe('no-store');
    const apiKey = (await page.locator('#api-key').innerText()).trim();
    expect(apiKey).toMatch(/^pak_test_/);
    expect(await page.locator('.warning').innerText()).toContain('only time this key is shown');
    await shot(page, 'key-once');

    // a reload of the status page does not show it again, and the API's pickup says it is gone
    await page.goto(`${base}/portal/access`);
    expect(await page.content()).not.toContain(apiKey);
    expect(await page.locator('#state').innerText()).toBe('Active');
    const again = await stack.call('POST', `/v1/partners/${partnerId}/credentials/pickup`, { token: requestToken });
    expect(again.status).toBe(410);

    // --- the key works through the gateway
    expect((await throughGateway(apiKey)).status).toBe(200);

    // --- rotate (the browser holds the key's session now): the new key once, the old one's retirement time
    await page.getByRole('button', { name: 'Rotate my key' }).click();
    await page.waitForLoadState();
    const newKey = (await page.locator('#api-key').innerText()).trim();
    expect(newKey).toMatch(/^pak_test_/);
    expect(newKey).not.toBe(apiKey);
    expect(await page.locator('dl.facts').innerText()).toMatch(/Previous key\s+pak_test_\w+…\s+stops working at \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect((await throughGateway(newKey)).status).toBe(200);
    await page.goto(`${base}/portal/access`);
    expect(await page.content()).not.toContain(newKey);

    // nothing secret in a URL the browser asked for, or in the server's log
    for (const secret of [requestToken, apiKey, newKey]) expectNowhere(secret, urls);
    // and the cookies hold a session id, never a credential
    expect((await context.cookies()).map((c) => c.value).join(' ')).not.toMatch(/prt_|pak_/);
    await context.close();
  });

  it('a form posted twice (a double click, a retry) files one request', async () => {
    const { context, page } = await partnerBrowser();
    await page.goto(`${base}/portal/request`);
    await page.getByLabel('Application name').fill('Gamma Twice');
    await page.getByLabel('Contact e-mail').fill('dev@gamma.example');
    await page.getByLabel('Sponsor').fill('portal-alice');
    await page.getByLabel(/^catalog:read/).check();
    await page.getByLabel('Justification').fill('Catalogue sync');
    const before = await partnerCount();
    // the same form data twice, as a browser resends it: one partner, the same id in both answers
    const answers = (await page.evaluate(`(async () => {
      const form = document.getElementById('request-form');
      const post = () => fetch('/portal/request', { method: 'POST', body: new URLSearchParams(new FormData(form)) }).then((r) => r.text());
      return [await post(), await post()];
    })()`)) as string[];
    const idOf = (html: string) => /partner id <code>([A-Za-z0-9]+)<\/code>/.exec(html)?.[1];
    expect(idOf(answers[0]!)).toBeTruthy();
    expect(idOf(answers[1]!)).toBe(idOf(answers[0]!));
    expect(await partnerCount()).toBe(before + 1);
    await context.close();
  });

  it('asks for an extension and offboards, with the refusals next to the fields', async () => {
    const submitted = await stack.call('POST', '/v1/partners', {
      body: { name: 'Beta Freight', contactEmail: 'ops@beta.example', sponsor: 'portal-alice', environment: 'sandbox', scopes: ['orders:read'], justification: 'Order sync', accessUntil: new Date(Date.now() + 5 * 86_400_000).toISOString() },
    });
    expect(submitted.status, submitted.text).toBe(202);
    const { partnerId, requestToken } = submitted.json as { partnerId: string; requestToken: string };
    await waitForState(stack, partnerId, 'pending_approval');
    expect((await decide(stack, partnerId, t.alice!, { decision: 'approve' })).status).toBe(200);
    await waitForState(stack, partnerId, 'active');

    const { context, page, urls } = await partnerBrowser({ viewport: { width: 390, height: 844 }, isMobile: true });
    await page.goto(`${base}/portal/access`);
    expect(new URL(page.url()).pathname).toBe('/portal/sign-in');
    await page.getByLabel('Request token or API key').fill(requestToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(new URL(page.url()).pathname).toBe('/portal/access');
    await shot(page, 'status-phone');

    // an extension without a reason: the schema's message next to the field, the date kept
    await page.locator('#extension-form').evaluate((form) => form.setAttribute('novalidate', ''));
    await page.locator('#extension-form').getByLabel('New end date').fill(dateIn(9));
    await page.getByRole('button', { name: 'Ask for an extension' }).click();
    await page.waitForLoadState();
    expect(await page.locator('#extension-form .field-error').first().innerText()).not.toBe('');
    expect(await page.locator('#extension-form').getByLabel('New end date').inputValue()).toBe(dateIn(9));
    expect((await stack.db.selectFrom('partners').select('pending_extension').where('id', '=', partnerId).executeTakeFirstOrThrow()).pending_extension).toBeNull();

    await page.locator('#extension-form').getByLabel('Why you need it').fill('The pilot runs longer');
    await page.getByRole('button', { name: 'Ask for an extension' }).click();
    await page.waitForLoadState();
    expect(await page.locator('.flash.ok').innerText()).toContain('sent to your sponsor');
    expect(await page.locator('dl.facts').innerText()).toContain('Extension asked');

    // offboarding without a reason: refused next to the field, nothing ended
    await page.locator('#offboarding-form').evaluate((form) => form.setAttribute('novalidate', ''));
    await page.getByRole('button', { name: 'Offboard' }).click();
    await page.waitForLoadState();
    expect(await page.locator('#offboardingReason-error').innerText()).not.toBe('');
    expect(await page.locator('#state').innerText()).toBe('Active');

    // offboarding now (the confirm is accepted): every key dies, the page says so
    await page.locator('#offboarding-form').getByLabel('Reason').fill('Project cancelled');
    await page.getByRole('button', { name: 'Offboard' }).click();
    await page.waitForLoadState();
    await waitForState(stack, partnerId, 'offboarded');
    expect(await page.locator('.flash.ok').innerText()).toContain('Your access has ended');
    expect(await page.locator('#state').innerText()).toBe('Offboarded');
    expectNowhere(requestToken, urls);
    await context.close();
  });
});

describe('/docs', () => {
  it('renders the OpenAPI document with Swagger UI served by us, under a CSP of our origin only', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const violations: string[] = [];
    const outside: string[] = [];
    page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text());
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) outside.push(r.url());
    });
    const response = await page.goto(`${base}/docs`);
    const csp = response!.headers()['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    await page.locator('.opblock').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
    expect(await page.locator('.opblock-summary-path', { hasText: '/v1/partners/{id}/credentials/pickup' }).count()).toBe(1);
    // the first screen only: the whole reference is several screens of PNG
    await page.screenshot({ path: path.join(screenshots, 'portal-docs.png') });
    // an operation opens with its parameters and responses
    await page.locator('.opblock-summary-path', { hasText: '/v1/partners/{id}/credentials/pickup' }).click();
    await page.locator('.opblock.is-open .responses-table').first().waitFor();
    expect(violations).toEqual([]);
    expect(outside).toEqual([]);
    await context.close();

    // without JavaScript: the table of operations
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const noJs = await plain.newPage();
    await noJs.goto(`${base}/docs`);
    expect(await noJs.locator('table').innerText()).toContain('/v1/partners/{id}/credentials/rotate');
    await plain.close();
  });
});
