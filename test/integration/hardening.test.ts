/**
 * Issue #11 items 9–11 on the real stack: text that cannot lie, bodies that cannot mean two things,
 * responses no cache keeps, a page that loads only what it ships, data files only the service
 * user can read.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../config/env.js';
import { freePort, startDevServer } from '../../runtime/dev-server.js';
import { loadPickupKey } from '../../runtime/services.js';
import { openDatabase } from '../../schema/db.js';
import { activePartner, baseSubmission, partnerRow, submit } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
let stack: Stack;
const t: Record<string, string> = {};
let active: Awaited<ReturnType<typeof activePartner>>;
let pending: { partnerId: string; requestToken: string };

beforeAll(async () => {
  stack = await startStack({
    policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'], approvalTimeout: '10 minutes', escalateAfter: '9 minutes', approvalReminders: [] },
  });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('gw', ['gateway']);
  t.aud = await stack.operator('aud', ['auditor']);
  active = await activePartner(stack, { sponsor: t.alice! });
  pending = await submit(stack);
});
afterAll(() => stack?.stop());

/** Everything a refused request could have touched. */
async function snapshot() {
  return {
    partners: await stack.db.selectFrom('partners').selectAll().orderBy('id').execute(),
    credentials: await stack.db.selectFrom('credentials').selectAll().orderBy('key_id').execute(),
    audit: await stack.db.selectFrom('audit_events').select(['seq', 'action']).orderBy('seq').execute(),
    decisions: await stack.db.selectFrom('decisions').selectAll().execute(),
  };
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

describe('free text cannot lie (item 9)', () => {
  // every free-text field of every body route, in a body that is otherwise valid
  const fields: Array<{ route: string; field: string; url: () => string; token: () => string | undefined; body: (text: string) => Record<string, unknown> }> = [
    { route: 'POST /v1/partners', field: 'name', url: () => '/v1/partners', token: () => undefined, body: (x) => ({ ...baseSubmission, name: x }) },
    { route: 'POST /v1/partners', field: 'justification', url: () => '/v1/partners', token: () => undefined, body: (x) => ({ ...baseSubmission, justification: x }) },
    { route: 'POST /v1/partners/{id}/decisions', field: 'reason', url: () => `/v1/partners/${pending.partnerId}/decisions`, token: () => t.alice, body: (x) => ({ decision: 'approve', reason: x }) },
    { route: 'POST /v1/partners/{id}/recertifications', field: 'reason', url: () => `/v1/partners/${active.partnerId}/recertifications`, token: () => t.alice, body: (x) => ({ decision: 'keep', reason: x }) },
    { route: 'POST /v1/partners/{id}/extension', field: 'reason', url: () => `/v1/partners/${active.partnerId}/extension`, token: () => active.requestToken, body: (x) => ({ accessUntil: inAnHour(), reason: x }) },
    { route: 'POST /v1/partners/{id}/offboarding', field: 'reason', url: () => `/v1/partners/${active.partnerId}/offboarding`, token: () => active.requestToken, body: (x) => ({ reason: x }) },
    { route: 'POST /v1/partners/{id}/revocation', field: 'reason', url: () => `/v1/partners/${active.partnerId}/revocation`, token: () => t.sec, body: (x) => ({ reason: x }) },
    { route: 'POST /v1/revocations', field: 'reason', url: () => '/v1/revocations', token: () => t.sec, body: (x) => ({ scope: 'orders:read', reason: x }) },
  ];
  const liars: Array<{ what: string; text: string; says: RegExp }> = [
    { what: 'a right-to-left override', text: 'abc\u202egnp.exe', says: /bidi control character \(U\+202E at index 3\)/ },
    { what: 'a zero-width space', text: 'Ac\u200bme', says: /zero-width character \(U\+200B at index 2\)/ },
    { what: 'a byte-order mark', text: '\ufeffAcme', says: /zero-width character \(U\+FEFF at index 0\)/ },
    { what: 'a lone surrogate', text: 'Acme\ud800', says: /unpaired surrogate \(U\+D800 at index 4\)/ },
    { what: 'a C1 control', text: 'Acme\u0085', says: /control character \(U\+0085 at index 4\)/ },
  ];
  for (const f of fields) {
    for (const liar of liars) {
      it(`${f.route} ${f.field} with ${liar.what} → 400 naming the field, nothing stored`, async () => {
        const before = await snapshot();
        const raw = JSON.stringify(f.body(liar.text));
        if (liar.what === 'a lone surrogate') expect(raw).toContain('\\ud800'); // sent as the JSON escape
        const res = await stack.call('POST', f.url(), { token: f.token(), body: raw });
        expect(res.status, res.text).toBe(400);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.json.issues).toEqual([{ path: f.field, message: expect.stringMatching(liar.says) }]);
        expect(res.json.detail).toContain(`${f.field}: must not contain`);
        expect(await snapshot()).toEqual(before);
      });
    }
  }

  it('a bidi override in the sponsor query is a 400, not an empty page', async () => {
    const res = await stack.call('GET', `/v1/partners?sponsor=${encodeURIComponent('ali\u202ece')}`, { token: t.aud });
    expect(res.status, res.text).toBe(400);
    expect(res.json.issues[0].path).toBe('sponsor');
  });

  it('text is stored and shown in NFC: a decomposed é is stored as the single character', async () => {
    const { partnerId, requestToken } = await submit(stack, { name: 'Cafe\u0301 Logistique', justification: 'Pa\u0301gos nin\u0303o' });
    const row = await partnerRow(stack, partnerId);
    expect(row.name).toBe('Caf\u00e9 Logistique');
    expect(row.justification).toBe('P\u00e1gos ni\u00f1o');
    expect((await stack.call('GET', `/v1/partners/${partnerId}`, { token: requestToken })).json.name).toBe('Caf\u00e9 Logistique');

    const revoked = await stack.call('POST', `/v1/partners/${partnerId}/revocation`, { token: t.sec, body: { reason: '  Leaked on a pa\u0301ste site  ' } });
    expect(revoked.status, revoked.text).toBe(202);
    expect((await partnerRow(stack, partnerId)).end_reason).toBe('Leaked on a p\u00e1ste site');
    const audited = await stack.db.selectFrom('audit_events').select('reason').where('partner_id', '=', partnerId).where('action', '=', 'partner.revocation_requested').executeTakeFirstOrThrow();
    expect(audited.reason).toBe('Leaked on a p\u00e1ste site');
  });
});

describe('a JSON body names each key once (item 10)', () => {
  it('a bulk revocation with {"dryRun":true,"dryRun":false} → 400 naming dryRun, nothing revoked', async () => {
    const before = await snapshot();
    const res = await stack.call('POST', '/v1/revocations', { token: t.sec, body: '{"scope":"orders:read","reason":"incident 42","dryRun":true,"dryRun":false}' });
    expect(res.status, res.text).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.json.issues).toEqual([{ path: 'dryRun', message: expect.stringContaining('duplicate key "dryRun"') }]);
    expect(await snapshot()).toEqual(before);
    expect((await partnerRow(stack, active.partnerId)).state).toBe('active');
    const introspected = await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: active.apiKey } });
    expect(introspected.json.active).toBe(true);
  });

  it('the same key spelled with an escape is the same key', async () => {
    const before = await snapshot();
    const res = await stack.call('POST', '/v1/revocations', { token: t.sec, body: '{"scope":"orders:read","reason":"incident 42","dryRun":true,"dry\\u0052un":false}' });
    expect(res.status, res.text).toBe(400);
    expect(res.json.issues[0].path).toBe('dryRun');
    expect(await snapshot()).toEqual(before);
  });

  it('on every body route, anonymous or not, before anything else is looked at', async () => {
    const before = await snapshot();
    const bodies: Array<[string, string | undefined, string]> = [
      ['/v1/partners', undefined, JSON.stringify(baseSubmission).replace('{', '{"sponsor":"mallory",')],
      [`/v1/partners/${pending.partnerId}/decisions`, t.alice, '{"decision":"reject","reason":"r","decision":"approve"}'],
      [`/v1/partners/${active.partnerId}/revocation`, t.sec, '{"reason":"a","reason":"b"}'],
      ['/v1/introspect', t.gw, `{"token":"${active.apiKey}","environment":"production","environment":"sandbox"}`],
    ];
    for (const [url, token, body] of bodies) {
      const res = await stack.call('POST', url, { token, body });
      expect(res.status, `${url}: ${res.text}`).toBe(400);
      expect(res.json.detail).toMatch(/duplicate key/);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('headers (item 11)', () => {
  it('Cache-Control: no-store on every response that carries a token, a key or partner data, and on problems', async () => {
    const fresh = await stack.call('POST', '/v1/partners', { body: { ...baseSubmission, name: 'No Store Ltd' } });
    expect(fresh.status).toBe(202);
    expect(fresh.json.requestToken).toMatch(/^prt_/);
    await eventually(async () => (await partnerRow(stack, fresh.json.partnerId)).state === 'pending_approval');
    await eventually(async () => (await stack.call('POST', `/v1/partners/${fresh.json.partnerId}/decisions`, { token: t.alice, body: { decision: 'approve', reason: 'ok' } })).status === 200);
    const pickup = await eventually(async () => {
      const res = await stack.call('POST', `/v1/partners/${fresh.json.partnerId}/credentials/pickup`, { token: fresh.json.requestToken });
      return res.status === 200 ? res : undefined;
    });
    expect(pickup.json.apiKey).toMatch(/^pak_/);
    const responses = {
      'submission 202': fresh,
      'pickup 200': pickup,
      'rotation 200': await stack.call('POST', `/v1/partners/${fresh.json.partnerId}/credentials/rotate`, { token: pickup.json.apiKey }),
      'partner view': await stack.call('GET', `/v1/partners/${active.partnerId}`, { token: active.apiKey }),
      timeline: await stack.call('GET', `/v1/partners/${active.partnerId}/timeline`, { token: active.requestToken }),
      list: await stack.call('GET', '/v1/partners', { token: t.aud }),
      inbox: await stack.call('GET', '/v1/inbox', { token: t.alice }),
      'audit export': await stack.call('GET', '/v1/audit', { token: t.aud }),
      introspection: await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: active.apiKey } }),
      'problem 400': await stack.call('POST', '/v1/partners', { body: {} }),
      'problem 401': await stack.call('GET', `/v1/partners/${active.partnerId}`),
      'problem 404': await stack.call('GET', '/v1/nothing-here', { token: t.aud }),
      'problem 405': await stack.call('DELETE', `/v1/partners/${active.partnerId}`),
      healthz: await stack.call('GET', '/healthz'),
    };
    expect(responses['rotation 200'].json.apiKey).toMatch(/^pak_/);
    expect(responses['audit export'].status).toBe(200);
    for (const [what, res] of Object.entries(responses)) expect(`${what}: ${res.headers.get('cache-control')}`).toBe(`${what}: no-store`);
  });

  it('/docs has a strict CSP: scripts and styles from our origin only, nothing inline', async () => {
    const first = await stack.call('GET', '/docs');
    expect(first.status).toBe(200);
    const csp = first.headers.get('content-security-policy')!;
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values.join(' ')]));
    expect(directives).toMatchObject({
      'default-src': "'none'",
      'base-uri': "'none'",
      'frame-ancestors': "'none'",
      'form-action': "'none'",
      'script-src': "'self'",
      'style-src': "'self'",
      'connect-src': "'self'",
    });
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    // Swagger UI and its init script come from /docs/assets/ (no CDN, no inline block)
    expect(first.text).not.toMatch(/<script>|<script(?![^>]*\ssrc=)[^>]*>|<style|style="|https?:\/\//);
    expect(first.text).toContain('src="/docs/assets/swagger-ui-bundle.js"');
    expect((await stack.call('GET', '/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
    expect((await stack.call('GET', '/docs/assets/constructor')).status).toBe(404);
    expect(first.headers.get('cache-control')).toBe('no-store');
  });

  it('JSON responses carry a CSP that lets nothing load or frame them', async () => {
    for (const url of ['/openapi.json', '/healthz', `/v1/partners/${active.partnerId}`]) {
      const res = await stack.call('GET', url, { token: active.apiKey });
      expect(res.headers.get('content-security-policy'), url).toBe("default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'");
    }
  });
});

describe('data files only the service user can read (item 11)', () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pa-modes-'));

  it('openDatabase creates the directory 0700 and app.db, -wal and -shm 0600, whatever the umask', async () => {
    const dir = path.join(tmp(), 'nested', 'data');
    const file = path.join(dir, 'app.db');
    const previous = process.umask(0o000); // the worst case: nothing masked
    let db;
    try {
      db = openDatabase({ kind: 'sqlite', file });
      await db.schema.createTable('t').addColumn('x', 'text').execute();
      await db.insertInto('t' as never).values({ x: 'written' } as never).execute();
    } finally {
      process.umask(previous);
    }
    expect(mode(dir).toString(8)).toBe('700');
    expect(mode(path.dirname(dir)).toString(8)).toBe('700');
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(`${path.basename(f)} ${mode(f).toString(8)}`).toBe(`${path.basename(f)} 600`);
    await db.destroy();
  });

  it('database files an older release left readable are tightened when opened', async () => {
    const dir = tmp();
    const file = path.join(dir, 'app.db');
    const first = openDatabase({ kind: 'sqlite', file });
    await first.schema.createTable('t').addColumn('x', 'text').execute();
    // leave the -wal and -shm behind, as a crash would, and open them up
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.chmodSync(f, 0o644);
    const again = openDatabase({ kind: 'sqlite', file });
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(`${path.basename(f)} ${mode(f).toString(8)}`).toBe(`${path.basename(f)} 600`);
    await again.destroy();
    await first.destroy();
  });

  it('npm run migrate on a fresh DATA_DIR: the directory 0700, the database 0600; an open DATA_DIR is warned about', () => {
    const root = tmp();
    const dataDir = path.join(root, 'data');
    const run = () =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts', 'migrate.ts')], {
        cwd: projectRoot,
        env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'warn' },
        encoding: 'utf8',
        timeout: 60_000,
      });
    const fresh = run();
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(mode(dataDir).toString(8)).toBe('700');
    expect(mode(path.join(dataDir, 'app.db')).toString(8)).toBe('600');
    expect(fresh.stderr).not.toMatch(/other users/);

    fs.chmodSync(dataDir, 0o755);
    const open = run();
    expect(open.status, open.stderr).toBe(0);
    expect(open.stderr).toContain(`${dataDir} is 0755: other users can list the data files; run chmod 700`);
    expect(mode(dataDir).toString(8)).toBe('755'); // warned, not changed: DATA_DIR may be shared
  });

  it('pickup.key is created 0600 in a 0700 directory, and an open one is tightened', () => {
    const dataDir = path.join(tmp(), 'data');
    const config = loadConfig({ DATA_DIR: dataDir }, '/');
    const key = loadPickupKey(config);
    expect(mode(dataDir).toString(8)).toBe('700');
    expect(mode(config.pickupKeyFile).toString(8)).toBe('600');
    fs.chmodSync(config.pickupKeyFile, 0o644);
    expect(loadPickupKey(config)).toEqual(key);
    expect(mode(config.pickupKeyFile).toString(8)).toBe('600');
  });

  it('the Temporal dev server’s temporal.db, -wal, -shm and log are 0600; this process’s umask is untouched', async () => {
    const dir = path.join(tmp(), 'data');
    const dbFile = path.join(dir, 'temporal.db');
    const umask = process.umask();
    const server = startDevServer({ cli: inject('temporalCliPath'), dbFile, port: await freePort(), uiPort: await freePort(), namespace: 'default' });
    try {
      // the server has written its schema once the WAL is there
      await eventually(async () => fs.existsSync(`${dbFile}-wal`) && fs.existsSync(`${dbFile}-shm`), 30_000);
      expect(process.umask()).toBe(umask);
      expect(mode(dir).toString(8)).toBe('700');
      for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, path.join(dir, 'temporal.log')]) {
        expect(`${path.basename(f)} ${mode(f).toString(8)}`).toBe(`${path.basename(f)} 600`);
      }
    } finally {
      await server.stop();
    }
  });
});
