import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { introspect } from '../../api/introspection.js';
import { createApp } from '../../api/app.js';
import { generateApiKey } from '../../domain/api-key.js';
import type { Database } from '../../schema/database.js';
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
