import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { introspect } from '../../api/introspection.js';
import { createApp } from '../../api/app.js';
import { generateApiKey } from '../../domain/api-key.js';
import type { Database } from '../../schema/database.js';
import { authenticator, GATEWAY_TOKEN_VERDICT_MS } from '../../api/auth.js';
import { Problem, problemResponse } from '../../api/problem.js';
import { InMemoryRateLimiter } from '../../api/rate-limit.js';
import { createRouter } from '../../api/router.js';
import { introspection } from '../../api/routes/introspect.js';
import { UsageRecorder } from '../../api/usage.js';
import { credentialForVerdict } from '../../schema/repositories/credentials.js';
import { serveApp } from '../helpers/gateway.js';
import { activePartner } from '../helpers/partners.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
const t: Record<string, string> = {};
let sandbox: Awaited<ReturnType<typeof activePartner>>;
let production: Awaited<ReturnType<typeof activePartner>>;

beforeAll(async () => {
  stack = await startStack({ policyOverrides: { recertifyEvery: '50 minutes', recertReminders: ['10 minutes'] } });
  t.alice = await stack.operator('alice', ['approver']);
  t.sec = await stack.operator('sec', ['security']);
  t.gw = await stack.operator('gw', ['gateway']);
  sandbox = await activePartner(stack, { sponsor: t.alice! }, { scopes: ['orders:read', 'catalog:read'] });
  production = await activePartner(stack, { sponsor: t.alice!, security: t.sec! }, { environment: 'production' });
});
afterAll(() => stack?.stop());

const ask = async (token: unknown, extra: Record<string, unknown> = {}) =>
  (await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token, ...extra } })).json;

/** A second connection to the same file that counts the queries it runs. */
function countingDb() {
  const counter = { queries: 0 };
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: new SQLite(stack.dbFile) }),
    log: () => {
      counter.queries++;
    },
  });
  return { db, counter };
}

describe('introspection', () => {
  it('an active key: partner, environment, scopes, rate tier, expiry; usage recorded', async () => {
    const verdict = await ask(sandbox.apiKey, { scope: 'orders:read' });
    expect(verdict).toMatchObject({
      active: true,
      partnerId: sandbox.partnerId,
      environment: 'sandbox',
      scopes: ['orders:read', 'catalog:read'],
      rateLimit: { tier: 'standard', requests: 5, windowSeconds: 2 },
    });
    expect(Date.parse(verdict.expiresAt)).toBeGreaterThan(Date.now());
    // gathered in memory, written in batches about every second
    const key = await eventually(() =>
      stack.db.selectFrom('credentials').select('last_used_at').where('key_id', '=', sandbox.keyId).where('last_used_at', 'is not', null).executeTakeFirst(),
    );
    expect(Date.parse(key.last_used_at!)).toBeLessThanOrEqual(Date.now());
    const usage = await eventually(async () => {
      const rows = await stack.db.selectFrom('usage_counters').selectAll().where('key_id', '=', sandbox.keyId).execute();
      return rows.length > 0 ? rows : undefined;
    });
    expect(usage).toMatchObject([{ scope: 'orders:read', count: 1 }]);
  });

  it('malformed and bad-checksum keys are refused without a database query', async () => {
    const { db, counter } = countingDb();
    try {
      const mutated = sandbox.apiKey.slice(0, -1) + (sandbox.apiKey.endsWith('A') ? 'B' : 'A');
      expect(await introspect(db, stack.policy, mutated)).toEqual({ active: false, reason: 'bad_checksum' });
      expect(await introspect(db, stack.policy, 'pak_test_short')).toEqual({ active: false, reason: 'malformed' });
      expect(await introspect(db, stack.policy, `${sandbox.apiKey}x`)).toEqual({ active: false, reason: 'malformed' });
      expect(counter.queries).toBe(0);
      // a well-formed unknown key costs exactly one indexed lookup
      expect(await introspect(db, stack.policy, generateApiKey('sandbox').apiKey)).toEqual({ active: false, reason: 'unknown' });
      expect(counter.queries).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  it('inactive answers reveal a reason and nothing else', async () => {
    for (const token of ['', 'nope', 42, generateApiKey('production').apiKey]) {
      const verdict = await ask(token);
      if (typeof token !== 'string') continue; // 42 fails validation below
      expect(Object.keys(verdict).sort()).toEqual(['active', 'reason']);
    }
    const bad = await stack.call('POST', '/v1/introspect', { token: t.gw, body: { token: 42 } });
    expect(bad.status).toBe(400);
  });

  it('a key past expires_at is inactive even if no timer has fired', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await stack.db.updateTable('credentials').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('key_id', '=', p.keyId).execute();
    expect(await ask(p.apiKey)).toEqual({ active: false, reason: 'expired' });
  });

  it('a suspended partner’s key is inactive', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    await stack.db.updateTable('partners').set({ state: 'suspended' }).where('id', '=', p.partnerId).execute();
    expect(await ask(p.apiKey)).toEqual({ active: false, reason: 'suspended' });
  });

  it('a revoked key is inactive at once', async () => {
    const p = await activePartner(stack, { sponsor: t.alice! });
    expect((await ask(p.apiKey)).active).toBe(true);
    await stack.call('POST', `/v1/partners/${p.partnerId}/revocation`, { token: t.sec, body: { reason: 'test' } });
    expect(await ask(p.apiKey)).toEqual({ active: false, reason: 'revoked' });
  });

  it('a key’s row kept between questions is dropped by any commit, from any connection or process', async () => {
    // SQLite keeps the rows it read until the file changes (schema/repositories/credentials.ts)
    const p = await activePartner(stack, { sponsor: t.alice! });
    expect((await ask(p.apiKey)).active).toBe(true);
    const kept = credentialForVerdict(stack.db, p.keyId);
    expect(kept).toBe(credentialForVerdict(stack.db, p.keyId)); // kept: the same row, not read again
    // another process's commit (a second connection to the file, as the worker or another API has)
    const other = new SQLite(stack.dbFile);
    try {
      other.prepare("update partners set state = 'suspended' where id = ?").run(p.partnerId);
      expect(await ask(p.apiKey)).toEqual({ active: false, reason: 'suspended' });
      other.prepare("update partners set state = 'active' where id = ?").run(p.partnerId);
      expect((await ask(p.apiKey)).active).toBe(true);
    } finally {
      other.close();
    }
    // this process's own writer
    await stack.db.updateTable('credentials').set({ status: 'revoked' }).where('key_id', '=', p.keyId).execute();
    expect(await ask(p.apiKey)).toEqual({ active: false, reason: 'revoked' });
  });

  it('environments are isolated: a sandbox key is never active for production and back (NHI8)', async () => {
    expect(production.apiKey).toMatch(/^pak_live_/);
    expect((await ask(production.apiKey, { environment: 'production' })).active).toBe(true);
    expect(await ask(production.apiKey, { environment: 'sandbox' })).toEqual({ active: false, reason: 'wrong_environment' });
    expect(await ask(sandbox.apiKey, { environment: 'production' })).toEqual({ active: false, reason: 'wrong_environment' });
    // a key whose prefix was rewritten to the other environment fails its checksum
    expect(await ask(sandbox.apiKey.replace('pak_test_', 'pak_live_'))).toEqual({ active: false, reason: 'bad_checksum' });
  });

  it('every key expires no later than the access end (NHI7)', async () => {
    const rows = await stack.db
      .selectFrom('credentials')
      .innerJoin('partners', 'partners.id', 'credentials.partner_id')
      .select(['credentials.expires_at', 'partners.access_until'])
      .execute();
    expect(rows.length).toBeGreaterThan(2);
    for (const row of rows) expect(row.expires_at <= row.access_until).toBe(true);
  });

  it('fails closed: an internal error is never a 2xx', async () => {
    const broken = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
    const app = createApp({
      db: broken,
      temporal: { client: stack.client, taskQueue: stack.taskQueue },
      policy: () => stack.policy,
      pickupKey: stack.pickupKey,
      logger: stack.logger,
    });
    // the gateway token cannot even be checked (no tables): 500, no verdict
    const res = await app.request('/v1/introspect', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.gw}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token: sandbox.apiKey }),
    });
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body).not.toHaveProperty('active');
    expect(JSON.stringify(body)).not.toMatch(/no such table|sqlite|at .*\.ts/i);
    await broken.destroy();
  });
});

/**
 * The lean path (api/routes/introspect.lean.ts) answers the ordinary question before the app's
 * other middleware; it only runs for requests served from a socket (never for `app.request`).
 */
describe('introspection’s lean path', () => {
  let served: Awaited<ReturnType<typeof serveApp>>;
  beforeAll(async () => {
    served = await serveApp(stack);
  });
  afterAll(() => served?.close());

  /** One request over the socket, through node's client (so a body can be sent chunked). */
  function overSocket(port: number, init: { headers: Record<string, string | string[]>; body: string; chunked?: boolean }) {
    return new Promise<{ status: number; headers: Record<string, string>; text: string }>((resolve, reject) => {
      const headers = { ...init.headers, ...(init.chunked ? {} : { 'content-length': String(Buffer.byteLength(init.body)) }) };
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/introspect', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers as Record<string, string>, text }));
      });
      req.on('error', reject);
      if (init.chunked) for (const part of [init.body.slice(0, 5), init.body.slice(5)]) req.write(part);
      else req.write(init.body);
      req.end();
    });
  }

  const json = { 'content-type': 'application/json' };
  const cases = (): Array<{ name: string; headers: Record<string, string | string[]>; body: string; chunked?: boolean; lean: boolean }> => [
    { name: 'active key', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: sandbox.apiKey, scope: 'orders:read' }), lean: true },
    { name: 'active key, other environment', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: sandbox.apiKey, environment: 'production' }), lean: true },
    { name: 'unknown key', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: generateApiKey('sandbox').apiKey }), lean: true },
    { name: 'bad checksum', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: `${sandbox.apiKey.slice(0, -1)}0` }), lean: true },
    { name: 'no credentials', headers: json, body: JSON.stringify({ token: sandbox.apiKey }), lean: true },
    { name: 'wrong role', headers: { ...json, authorization: `Bearer ${t.alice}` }, body: JSON.stringify({ token: sandbox.apiKey }), lean: true },
    { name: 'a partner key as the caller', headers: { ...json, 'x-api-key': sandbox.apiKey }, body: JSON.stringify({ token: sandbox.apiKey }), lean: true },
    { name: 'unknown operator token', headers: { ...json, authorization: `Bearer pat_${'x'.repeat(43)}` }, body: JSON.stringify({ token: sandbox.apiKey }), lean: true },
    { name: 'schema refuses the body', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: 42 }), lean: false },
    { name: 'schema refuses, and no credentials', headers: json, body: JSON.stringify({ token: 42 }), lean: false },
    { name: 'unknown field', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: sandbox.apiKey, active: true }), lean: false },
    { name: 'duplicate key', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: `{"token":"x","token":${JSON.stringify(sandbox.apiKey)}}`, lean: false },
    { name: 'malformed JSON', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: '{"token":', lean: false },
    { name: 'not JSON', headers: { 'content-type': 'text/plain', authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: sandbox.apiKey }), lean: false },
    { name: 'a BOM before the JSON', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: `\ufeff${JSON.stringify({ token: sandbox.apiKey })}`, lean: true },
    { name: 'CORS request', headers: { ...json, authorization: `Bearer ${t.gw}`, origin: 'https://evil.example' }, body: JSON.stringify({ token: sandbox.apiKey }), lean: false },
    { name: 'chunked body', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: sandbox.apiKey }), chunked: true, lean: false },
    { name: 'oversized body', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: 'x'.repeat(70 * 1024) }), lean: false },
    // parsed fine, but serialising it again would overflow the stack: refused by the schema first
    { name: 'deeply nested array', headers: { ...json, authorization: `Bearer ${t.gw}` }, body: `${'['.repeat(6000)}${']'.repeat(6000)}`, lean: false },
    { name: 'a second Content-Type', headers: { 'content-type': ['application/json', 'text/plain'], authorization: `Bearer ${t.gw}` }, body: JSON.stringify({ token: sandbox.apiKey }), lean: false },
  ];
  // what the socket adds and what differs per request
  const comparable = (headers: Record<string, string>) =>
    Object.fromEntries(Object.entries(headers).filter(([name]) => !['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'x-request-id'].includes(name.toLowerCase())));
  const withoutRequestId = (text: string) => text.replace(/"requestId":"[^"]*"/, '"requestId":"…"');

  it('answers the ordinary question itself and hands everything else to the route', async () => {
    // the lean path alone, the route replaced by a marker: which requests it answers itself
    const limiter = new InMemoryRateLimiter();
    const deps = { db: stack.db, policy: () => stack.policy, limits: { authFailuresPerMinute: 10_000 } };
    const auth = authenticator(stack.db, { limiter, failuresPerMinute: 10_000 });
    const usage = new UsageRecorder(stack.db);
    const lean = introspection(deps as never, limiter, usage).lean({ principalOf: auth.principalOf, maxBodyBytes: 64 * 1024, headers: async () => [['x-fixed', 'yes']] });
    const app = createRouter();
    app.post('/v1/introspect', lean);
    app.post('/v1/introspect', (c) => c.text('the route', 599 as never));
    app.onError((err, c) => (err instanceof Problem ? problemResponse(c, err) : c.text('error', 500)));
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      const port = (server.address() as AddressInfo).port;
      for (const c of cases()) {
        const res = await overSocket(port, c);
        expect(res.status === 599, `${c.name}: ${res.status} ${res.text}`).toBe(!c.lean);
        if (c.lean) expect(res.headers['x-fixed'], c.name).toBe('yes');
      }
    } finally {
      await usage.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives the same answers, headers included, as the full route', async () => {
    for (const c of cases()) {
      const socket = await overSocket(served.port, c);
      // in process, repeated headers arrive joined, as @hono/node-server joins them from a socket
      const headers = Object.fromEntries(Object.entries(c.headers).map(([name, value]) => [name, [value].flat().join(', ')]));
      const inProcess = await stack.call('POST', '/v1/introspect', { headers, body: c.body });
      if (c.chunked) continue; // in process there is no chunked body: compared by the first test
      expect(socket.status, c.name).toBe(inProcess.status);
      expect(withoutRequestId(socket.text), c.name).toBe(withoutRequestId(inProcess.text));
      expect(comparable(socket.headers), c.name).toEqual(comparable(Object.fromEntries(inProcess.headers)));
    }
  });
});

describe('the gateway token’s cached verdict', () => {
  it('a revoked gateway token is refused within GATEWAY_TOKEN_VERDICT_MS; another operator’s at once', async () => {
    const admin = await stack.operator('gw-admin', ['admin']);
    const gw = await stack.operator('gw-cached', ['gateway']);
    const auditor = await stack.operator('aud-cached', ['auditor']);
    const asked = () => stack.call('POST', '/v1/introspect', { token: gw, body: { token: sandbox.apiKey } });
    expect((await asked()).status).toBe(200); // now cached
    expect((await stack.call('GET', '/v1/audit', { token: auditor })).status).toBe(200);
    for (const name of ['gw-cached', 'aud-cached']) {
      expect((await stack.call('POST', `/v1/operators/${name}/revocation`, { token: admin, body: { reason: 'test' } })).status).toBe(200);
    }
    const revokedAt = Date.now();
    // not cached: a human's or an admin's token stops at once
    expect((await stack.call('GET', '/v1/audit', { token: auditor })).status).toBe(401);
    await eventually(async () => ((await asked()).status === 401 ? true : undefined), 3000);
    expect(Date.now() - revokedAt).toBeLessThanOrEqual(GATEWAY_TOKEN_VERDICT_MS + 250);
  });
});
