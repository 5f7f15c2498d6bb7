/**
 * The pages' sessions and CSRF protection (issue #15), in a real Chromium against the real app
 * on a socket: sign-in turns a token into an HttpOnly session cookie, sign-out ends it for good, a
 * revoked operator's session ends at the next click, and forms without their token or from another
 * site change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack.js';
import { serveApp } from '../helpers/gateway.js';
import { launchBrowser } from '../helpers/browser.js';
import { baseSubmission } from '../helpers/partners.js';

let stack: Stack;
let server: Awaited<ReturnType<typeof serveApp>>;
let browser: Browser;
let base: string;

beforeAll(async () => {
  stack = await startStack({ noWorker: true });
  server = await serveApp(stack);
  base = `http://127.0.0.1:${server.port}`;
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await stack?.stop();
});

async function signIn(token: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/console`);
  // not signed in: sent to the sign-in form, which brings the operator back
  expect(new URL(page.url()).pathname).toBe('/console/sign-in');
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return { context, page };
}

describe('console sessions', () => {
  it('signs in with an operator token into an HttpOnly, SameSite=Strict session that sign-out ends for good', async () => {
    const token = await stack.operator('pages-reviewer', ['approver']);
    const { context, page } = await signIn(token);
    expect(new URL(page.url()).pathname).toBe('/console');
    expect(await page.locator('h1').innerText()).toBe('Inbox');
    expect(await page.locator('.who').innerText()).toContain('pages-reviewer');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'pa_session')!;
    expect(session).toBeDefined();
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe('Strict');
    // the token is nowhere in the page, the URL or the cookies
    expect(await page.content()).not.toContain(token);
    expect(page.url()).not.toContain(token);
    expect(cookies.map((c) => c.value).join(' ')).not.toContain(token);

    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    // the old cookie, replayed from elsewhere, opens nothing any more
    const replayed = await fetch(`${base}/console`, { headers: { cookie: `pa_session=${session.value}` }, redirect: 'manual' });
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get('location')).toMatch(/^\/console\/sign-in/);
    await context.close();
  });

  it('ends the session of an operator revoked meanwhile, at the next request', async () => {
    const admin = await stack.operator('pages-admin-2', ['admin']);
    const token = await stack.operator('pages-approver', ['approver']);
    const { context, page } = await signIn(token);
    expect(new URL(page.url()).pathname).toBe('/console');
    const revoked = await stack.call('POST', '/v1/operators/pages-approver/revocation', { token: admin, body: { reason: 'left the company' } });
    expect(revoked.status).toBe(200);
    await page.goto(`${base}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    await context.close();
  });

  it('shows an operator only the pages its roles open, and lands it on the first of them', async () => {
    // pasted with the blanks around it that a copy brings along
    const { context, page } = await signIn(`  ${await stack.operator('pages-auditor', ['auditor'])} `);
    expect(new URL(page.url()).pathname).toBe('/console/partners');
    expect(await page.locator('header nav a').allInnerTexts()).toEqual(['Partners', 'Audit']);
    await page.goto(`${base}/console/security`);
    expect(await page.locator('h1').innerText()).toBe('Forbidden');
    await context.close();
  });

  it('refuses a wrong token on the form without opening a session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/console/sign-in`);
    await page.getByLabel('Operator token').fill('pat_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.locator('.field-error').innerText()).toContain('not a valid operator token');
    expect((await context.cookies()).some((c) => c.name === 'pa_session')).toBe(false);
    await context.close();
  });

  it('each door takes its own credentials: a partner’s request token opens no console session, an operator token no portal one', async () => {
    const operatorToken = await stack.operator('pages-wrong-door', ['approver']);
    // no worker here: the request token holds from the API's commit, before any workflow runs
    const submitted = await stack.call('POST', '/v1/partners', { body: { ...baseSubmission, sponsor: 'pages-wrong-door' } });
    expect(submitted.status, submitted.text).toBe(202);
    const requestToken = submitted.json.requestToken as string;
    for (const [path, label, credential, message] of [
      ['/console/sign-in', 'Operator token', requestToken, 'not a valid operator token'],
      ['/portal/sign-in', 'Request token or API key', operatorToken, 'not a valid request token or API key'],
    ] as const) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${base}${path}`);
      await page.getByLabel(label).fill(credential);
      await page.getByRole('button', { name: 'Sign in' }).click();
      expect(await page.locator('.field-error').innerText(), path).toContain(message);
      expect((await context.cookies()).some((c) => c.name === 'pa_session'), path).toBe(false);
      await context.close();
    }
  });
});

describe('CSRF', () => {
  it('refuses a form post without its token, and one from another site, changing nothing', async () => {
    const token = await stack.operator('pages-csrf', ['admin']);
    const { context, page } = await signIn(token);
    const cookies = await context.cookies();
    const cookieHeader = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const csrf = cookies.find((c) => c.name === 'pa_csrf')!.value;

    // the sign-out form without its token: refused, and the session still works
    const noToken = await fetch(`${base}/console/sign-out`, { method: 'POST', headers: { cookie: cookieHeader, 'content-type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });
    expect(noToken.status).toBe(403);
    expect(await noToken.text()).toContain('security token');
    // the right token but sent from another site (what a browser says of a cross-site form)
    const crossSite = await fetch(`${base}/console/sign-out`, {
      method: 'POST',
      headers: { cookie: cookieHeader, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      body: `_csrf=${csrf}`,
      redirect: 'manual',
    });
    expect(crossSite.status).toBe(403);
    await page.goto(`${base}/console`);
    expect(new URL(page.url()).pathname).toBe('/console');

    // a real cross-site form in the browser: the page of another origin posts to us
    const evil = await context.newPage();
    await evil.goto('about:blank');
    await evil.setContent(`<form method="post" action="${base}/console/sign-out"><input name="_csrf" value="guess"><button>go</button></form>`);
    await evil.click('button');
    await evil.waitForLoadState();
    expect(await evil.content()).toContain('Forbidden');
    await page.goto(`${base}/console`);
    expect(new URL(page.url()).pathname).toBe('/console');
    await context.close();
  });

  it('answers any token text with a 403 and an unreadable form with a 400, never a 500', async () => {
    const page = await fetch(`${base}/console/sign-in`);
    const csrf = /pa_csrf=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1]!;
    // as many characters as the cookie's token, but not as many bytes
    const multiByte = await fetch(`${base}/console/sign-in`, {
      method: 'POST',
      headers: { cookie: `pa_csrf=${csrf}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `_csrf=${encodeURIComponent('é' + 'A'.repeat(csrf.length - 1))}&token=x`,
    });
    expect(multiByte.status).toBe(403);
    const unreadable = await fetch(`${base}/console/sign-in`, { method: 'POST', headers: { cookie: `pa_csrf=${csrf}`, 'content-type': 'multipart/form-data' }, body: 'x' });
    expect(unreadable.status).toBe(400);
  });

  it('believes X-Forwarded-Proto only from a trusted proxy (none here): a client cannot make the cookies Secure-only', async () => {
    const res = await fetch(`${base}/console/sign-in`, { headers: { 'x-forwarded-proto': 'https' } });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^pa_csrf=/);
    expect(cookie).not.toMatch(/Secure/i);
  });

  it('serves pages under a strict Content-Security-Policy, no-store, and assets from us only', async () => {
    const response = await fetch(`${base}/console/sign-in`);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).not.toMatch(/<script>|<style>|https?:\/\/(?!127\.0\.0\.1)/);
    const css = await fetch(`${base}/assets/portal.css`);
    expect(css.status).toBe(200);
    // static assets alone may be kept by the browser
    expect(css.headers.get('cache-control')).toBe('public, max-age=3600');
    expect((await fetch(`${base}/assets/constructor`)).status).toBe(404);
    expect((await fetch(`${base}/assets/..%2Fsession.ts`)).status).toBe(404);
  });
});
